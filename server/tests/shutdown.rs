//! Graceful shutdown of the real `messenger-server` process on SIGTERM: it
//! stops accepting, ends the open streams cleanly (with a hint to reconnect),
//! lets the requests in flight finish, so that no acknowledged message is
//! lost, and exits within `--shutdown-timeout-secs` even if a client holds a
//! connection open.

mod process;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use messenger_wire::{Message, SendMessage};
use process::{Launch, ServerProcess, all_messages, start_conversation};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

const AGENT_KEY: &str = "shutdown-test-agent-key-0123456789";
const CONVERSATIONS: usize = 8;
const SENDERS: usize = 16;
/// Messages acknowledged before the SIGTERM.
const ACKS_BEFORE_SIGTERM: u64 = 300;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A message whose send was answered 201 (or 200, a replay).
struct Acknowledged {
    conversation: usize,
    client_id: String,
    body: String,
}

/// Sends messages one after another until a send fails after `terminated`
/// (the server is going away: that send is not acknowledged, and the sender
/// stops). A failure before the SIGTERM fails the test.
async fn run_sender(
    sender: usize,
    client: reqwest::Client,
    api: String,
    tokens: Arc<Vec<String>>,
    terminated: Arc<AtomicBool>,
    acks: Arc<watch::Sender<u64>>,
) -> Vec<Acknowledged> {
    let mut acknowledged = Vec::new();
    for n in 0.. {
        let conversation = (sender + n) % tokens.len();
        let message = SendMessage {
            client_id: format!("s{sender}-m{n}"),
            body: format!("message {n} of sender {sender}"),
        };
        let sent = client
            .post(format!("{api}/conversation/messages"))
            .bearer_auth(&tokens[conversation])
            .json(&message)
            .send()
            .await;
        let stored = match sent {
            Ok(response) if matches!(response.status(), StatusCode::CREATED | StatusCode::OK) => {
                response.json::<Message>().await.ok()
            }
            _ => None,
        };
        match stored {
            Some(stored) => {
                assert_eq!(stored.body, message.body);
                acknowledged.push(Acknowledged {
                    conversation,
                    client_id: message.client_id,
                    body: message.body,
                });
                acks.send_modify(|count| *count += 1);
            }
            None if terminated.load(Ordering::SeqCst) => break,
            None => panic!("send {} failed before the SIGTERM", message.client_id),
        }
    }
    acknowledged
}

/// Reads a stream to its end: `Ok(text)` when the server ended it cleanly,
/// `Err` when the connection broke.
async fn read_to_end(mut response: reqwest::Response) -> Result<String, String> {
    let mut text = String::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(None) => return Ok(text),
            Err(err) => return Err(format!("{err} after {text:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_message_ends_streams_and_exits_in_time() {
    let timeout = Duration::from_secs(15);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Launch::new(dir.path())
        .arg("--shutdown-timeout-secs")
        .arg(timeout.as_secs().to_string())
        .env("MESSENGER_AGENT_API_KEY", AGENT_KEY)
        .start()
        .await;
    let client = client();
    let mut tokens = Vec::new();
    for _ in 0..CONVERSATIONS {
        tokens.push(start_conversation(&client, &server).await.0);
    }
    let tokens = Arc::new(tokens);

    // A customer's stream and an agent's, open through the shutdown.
    let customer_stream = client
        .get(server.api("/conversation/events"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(customer_stream.status(), StatusCode::OK);
    let agent_stream = client
        .get(server.api("/agent/events"))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(agent_stream.status(), StatusCode::OK);
    let customer_stream = tokio::spawn(read_to_end(customer_stream));
    let agent_stream = tokio::spawn(read_to_end(agent_stream));

    let terminated = Arc::new(AtomicBool::new(false));
    let (acks, mut acked) = watch::channel(0u64);
    let acks = Arc::new(acks);
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            tokio::spawn(run_sender(
                sender,
                client.clone(),
                server.api(""),
                tokens.clone(),
                terminated.clone(),
                acks.clone(),
            ))
        })
        .collect();

    tokio::time::timeout(
        Duration::from_secs(30),
        acked.wait_for(|n| *n >= ACKS_BEFORE_SIGTERM),
    )
    .await
    .expect("the load gets going")
    .unwrap();
    terminated.store(true, Ordering::SeqCst);
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait_until(signalled + timeout).await;
    let took = signalled.elapsed();
    if status.is_none() {
        server.print_log_tail();
    }
    let status = status.expect("the server exits within --shutdown-timeout-secs");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took < timeout,
        "exited after {took:?}, within the timeout of {timeout:?}"
    );

    // The streams were ended by the server, with a hint to reconnect, not
    // cut: the response bodies ended cleanly.
    for (kind, stream) in [("customer", customer_stream), ("agent", agent_stream)] {
        let text = stream
            .await
            .unwrap()
            .unwrap_or_else(|err| panic!("the {kind} stream broke: {err}"));
        assert!(text.contains("retry:"), "the {kind} stream: {text:?}");
    }

    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(acknowledged.len() as u64 >= ACKS_BEFORE_SIGTERM);

    // Every acknowledged message is in the database, exactly once.
    let server = Launch::new(dir.path()).start().await;
    let mut stored: Vec<HashMap<String, (String, usize)>> = Vec::new();
    for token in tokens.iter() {
        let mut by_client_id = HashMap::new();
        for message in all_messages(&client, &server, token).await {
            let client_id = message.client_id.clone().unwrap();
            by_client_id.entry(client_id).or_insert((message.body, 0)).1 += 1;
        }
        stored.push(by_client_id);
    }
    for message in &acknowledged {
        match stored[message.conversation].get(&message.client_id) {
            Some((body, 1)) => assert_eq!(body, &message.body),
            Some((_, times)) => panic!("{} stored {times} times", message.client_id),
            None => panic!("acknowledged {} was lost", message.client_id),
        }
    }
    println!(
        "sigterm under load: acknowledged={} exited after {took:?}",
        acknowledged.len()
    );
}

/// Starts a send over a raw connection and stops in the middle of its body,
/// once the server has begun to read it (it answered `100 Continue`).
/// Returns the connection and the rest of the body.
async fn hold_a_send(server: &ServerProcess, token: &str, body: &str) -> (TcpStream, Vec<u8>) {
    let json = serde_json::to_vec(&SendMessage {
        client_id: "held".into(),
        body: body.into(),
    })
    .unwrap();
    let mut connection = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/conversation/messages HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.addr,
        json.len()
    );
    connection.write_all(head.as_bytes()).await.unwrap();
    let answer = read_some(&mut connection).await;
    assert!(answer.starts_with("HTTP/1.1 100"), "{answer}");
    let (first, rest) = json.split_at(json.len() / 2);
    connection.write_all(first).await.unwrap();
    (connection, rest.to_vec())
}

async fn read_some(connection: &mut TcpStream) -> String {
    let mut buffer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), connection.read(&mut buffer))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

/// Waits until connecting to `server` is refused: it stopped accepting.
async fn wait_until_refused(server: &ServerProcess) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(server.addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_in_flight_at_sigterm_is_finished_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Launch::new(dir.path())
        .arg("--shutdown-timeout-secs")
        .arg("20")
        .start()
        .await;
    let client = client();
    let (token, _) = start_conversation(&client, &server).await;

    let (mut connection, rest) = hold_a_send(&server, &token, "sent across the shutdown").await;
    let signalled = Instant::now();
    server.terminate();
    wait_until_refused(&server).await;
    // Shutting down, no longer accepting: the send in flight still completes.
    connection.write_all(&rest).await.unwrap();
    let answer = read_some(&mut connection).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = server
        .wait_until(signalled + Duration::from_secs(20))
        .await
        .expect("exits once the send is answered");
    assert!(status.success());
    assert!(signalled.elapsed() < Duration::from_secs(10));

    let server = Launch::new(dir.path()).start().await;
    let messages = all_messages(&client, &server, &token).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "sent across the shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holding_a_request_open_delays_the_exit_no_longer_than_the_timeout() {
    let timeout = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Launch::new(dir.path())
        .arg("--shutdown-timeout-secs")
        .arg(timeout.as_secs().to_string())
        .start()
        .await;
    let client = client();
    let (token, _) = start_conversation(&client, &server).await;

    // Half a body, and then nothing: the request never completes.
    let (_connection, _rest) = hold_a_send(&server, &token, "never finished").await;
    let signalled = Instant::now();
    server.terminate();
    let status = server
        .wait_until(signalled + timeout + Duration::from_secs(10))
        .await;
    let took = signalled.elapsed();
    let status = status.expect("the server exits despite the held connection");
    assert!(status.success(), "{status:?}");
    assert!(took >= timeout, "it waited for the request ({took:?})");
    assert!(
        took < timeout + Duration::from_secs(5),
        "and not much longer ({took:?})"
    );
    assert!(
        server.logs().contains("shutdown timeout"),
        "{}",
        server.logs()
    );
}
