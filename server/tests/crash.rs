//! Crash durability: the real `messenger-server` binary, killed with SIGKILL
//! again and again under concurrent load, loses no acknowledged message and
//! stores none twice.
//!
//! A message counts as acknowledged when a send of it got a 201 or a 200.
//! Senders retry after connection errors with the same client id, as the
//! widget does, so a message whose first answer was lost in a crash is
//! acknowledged by its retry. After the last restart every conversation is
//! read back in full and compared with what was acknowledged.
//!
//! The kills are paced by acknowledged messages, not by time, so the test does
//! the same work on a fast and on a slow machine.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use messenger_wire::{ConversationPage, Message, SendMessage, StartedConversation};
use reqwest::StatusCode;
use tokio::sync::watch;

const AGENT_KEY: &str = "crash-test-agent-key-0123456789";
const CONVERSATIONS: usize = 8;
const SENDERS: usize = 16;
const KILLS: usize = 5;
/// Acknowledged messages between two kills, and after the last restart.
const ACKS_BETWEEN_KILLS: u64 = 300;
/// Longest wait for a started server to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for the load to get `ACKS_BETWEEN_KILLS` more messages through.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest time one message may take to be acknowledged, retries included.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_sigkill_without_loss_or_duplication() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();
    let mut server = ServerProcess::start(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let api = format!("http://{addr}/api/v1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let mut tokens = Vec::new();
    for _ in 0..CONVERSATIONS {
        tokens.push(start_conversation(&client, &api).await);
    }
    let tokens = Arc::new(tokens);

    let stop = Arc::new(AtomicBool::new(false));
    let (acks, mut acked) = watch::channel(0u64);
    let acks = Arc::new(acks);
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            tokio::spawn(run_sender(
                sender,
                client.clone(),
                api.clone(),
                tokens.clone(),
                stop.clone(),
                acks.clone(),
            ))
        })
        .collect();

    for _ in 0..KILLS {
        wait_for_more_acks(&mut acked, ACKS_BETWEEN_KILLS, &server).await;
        server.kill();
        server = ServerProcess::start(dir.path(), addr).await;
    }
    // Senders caught by the last kill retry and get through to this server.
    wait_for_more_acks(&mut acked, ACKS_BETWEEN_KILLS, &server).await;
    stop.store(true, Ordering::Relaxed);

    let mut acknowledged = Vec::new();
    for sender in senders {
        match sender.await {
            Ok(sent) => acknowledged.extend(sent),
            Err(err) => {
                server.print_log_tail();
                std::panic::resume_unwind(err.into_panic());
            }
        }
    }

    let mut stored = Vec::new();
    for token in tokens.iter() {
        stored.push(all_messages(&client, &api, token).await);
    }
    server.kill();

    let report = compare(&acknowledged, &stored);
    println!(
        "crash durability: kills={KILLS} acknowledged={} found={} lost={} duplicated={} \
         stored={} retried={} replayed={}",
        report.acknowledged,
        report.found,
        report.lost,
        report.duplicated,
        report.stored,
        report.retried,
        report.replayed,
    );
    assert_eq!(report.lost, 0, "acknowledged messages were lost");
    assert_eq!(report.duplicated, 0, "messages were stored twice");
    assert!(report.acknowledged >= (KILLS as u64 + 1) * ACKS_BETWEEN_KILLS);
}

// ---- the server process -----------------------------------------------------

/// The server binary as a child process; killed (SIGKILL) when dropped, so a
/// failing test leaves no server behind.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the binary over `dir/m.db` on `addr` and waits for its
    /// `listening on` line. A restart asks for the port of the first run: while
    /// the port is not free yet the server exits at once, and it is started
    /// again until the deadline.
    async fn start(dir: &Path, addr: SocketAddr) -> ServerProcess {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + STARTUP_TIMEOUT;
            loop {
                let mut server = ServerProcess::spawn(&dir, addr);
                if let Some(listening) = server.wait_until_listening(deadline) {
                    server.addr = listening;
                    return server;
                }
                if Instant::now() >= deadline {
                    server.print_log_tail();
                    panic!("messenger-server did not start listening on {addr}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap()
    }

    fn spawn(dir: &Path, addr: SocketAddr) -> ServerProcess {
        // Logs go to a file: a pipe nobody reads could fill and block the server.
        let log = dir.join("server.log");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_messenger-server"))
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--database")
            .arg(dir.join("m.db"))
            .arg("--assets")
            .arg(dir.join("dist"))
            .arg("--agent-api-key")
            .arg(AGENT_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start messenger-server");
        ServerProcess { child, addr, log }
    }

    /// The address of the `listening on http://ADDR` line, or `None` when the
    /// process ended without printing it. Panics at the deadline.
    fn wait_until_listening(&mut self, deadline: Instant) -> Option<SocketAddr> {
        let stdout = self.child.stdout.take().unwrap();
        let (found, listening) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = found.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let wait = deadline.saturating_duration_since(Instant::now());
        match listening.recv_timeout(wait) {
            Ok(addr) => Some(addr),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = self.child.wait();
                None
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.print_log_tail();
                panic!("messenger-server printed no listening line in time");
            }
        }
    }

    /// SIGKILL: no graceful shutdown, no chance to flush anything.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn print_log_tail(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("--- end of the server's log ---");
        for line in &lines[lines.len().saturating_sub(30)..] {
            eprintln!("{line}");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---- the load ---------------------------------------------------------------

/// A message whose send was acknowledged.
struct Acknowledged {
    conversation: usize,
    client_id: String,
    body: String,
    /// Sends it took: more than one when a kill interrupted it.
    attempts: u32,
    /// Answered 200: a retry found it stored by an attempt whose answer was lost.
    replayed: bool,
}

/// Sends one message after another, cycling through the conversations, until
/// `stop`; returns the messages acknowledged. Each message is retried until
/// it is acknowledged, so none is left in doubt when the sender stops.
async fn run_sender(
    sender: usize,
    client: reqwest::Client,
    api: String,
    tokens: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    acks: Arc<watch::Sender<u64>>,
) -> Vec<Acknowledged> {
    let mut acknowledged = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let conversation = (sender + n) % tokens.len();
        let message = SendMessage {
            client_id: format!("s{sender}-m{n}"),
            body: format!("message {n} of sender {sender}"),
        };
        let (status, attempts) =
            send_until_acknowledged(&client, &api, &tokens[conversation], &message).await;
        acknowledged.push(Acknowledged {
            conversation,
            client_id: message.client_id,
            body: message.body,
            attempts,
            replayed: status == StatusCode::OK,
        });
        acks.send_modify(|count| *count += 1);
    }
    acknowledged
}

/// Sends `message` until the server answers 201 or 200, retrying with the
/// same client id after connection errors (the server is down or was killed
/// mid-request) and after 503. Returns the acknowledging status and the
/// number of attempts.
async fn send_until_acknowledged(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    message: &SendMessage,
) -> (StatusCode, u32) {
    let deadline = Instant::now() + SEND_TIMEOUT;
    let mut last_error = String::new();
    let mut attempts = 0;
    while Instant::now() < deadline {
        attempts += 1;
        let sent = client
            .post(format!("{api}/conversation/messages"))
            .bearer_auth(token)
            .json(message)
            .send()
            .await;
        match sent {
            Ok(response) if matches!(response.status(), StatusCode::CREATED | StatusCode::OK) => {
                let status = response.status();
                match response.json::<Message>().await {
                    Ok(stored) => {
                        assert_eq!(stored.client_id.as_deref(), Some(&*message.client_id));
                        assert_eq!(stored.body, message.body);
                        return (status, attempts);
                    }
                    // Killed between the headers and the body: not acknowledged.
                    Err(err) => last_error = err.to_string(),
                }
            }
            Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                last_error = "503".into();
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                panic!("send {} answered {status}: {body}", message.client_id);
            }
            Err(err) => last_error = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "send {} not acknowledged within {SEND_TIMEOUT:?}; last error: {last_error}",
        message.client_id
    );
}

/// Waits until `more` messages were acknowledged after the current count.
async fn wait_for_more_acks(acked: &mut watch::Receiver<u64>, more: u64, server: &ServerProcess) {
    let target = *acked.borrow_and_update() + more;
    let progressed = tokio::time::timeout(PROGRESS_TIMEOUT, acked.wait_for(|n| *n >= target)).await;
    if progressed.is_err() {
        server.print_log_tail();
        panic!("fewer than {more} messages acknowledged within {PROGRESS_TIMEOUT:?}");
    }
}

// ---- reading back -----------------------------------------------------------

async fn start_conversation(client: &reqwest::Client, api: &str) -> String {
    let response = client
        .post(format!("{api}/conversations"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<StartedConversation>().await.unwrap().token
}

/// Every message of a conversation, oldest first, by paging back from the
/// latest; checks that the `seq`s run 1..=n without gaps.
async fn all_messages(client: &reqwest::Client, api: &str, token: &str) -> Vec<Message> {
    let mut pages = Vec::new();
    let mut query = String::new();
    let last_seq = loop {
        let response = client
            .get(format!("{api}/conversation?limit=200{query}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: ConversationPage = response.json().await.unwrap();
        let last_seq = page.conversation.last_seq;
        pages.push(page.messages);
        match page.older_cursor {
            Some(cursor) => query = format!("&before={cursor}"),
            None => break last_seq,
        }
    };
    let all: Vec<Message> = pages.into_iter().rev().flatten().collect();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert!(
        seqs.iter().copied().eq(1..=last_seq),
        "seqs run 1..={last_seq} without gaps"
    );
    all
}

struct Report {
    acknowledged: u64,
    found: u64,
    lost: u64,
    duplicated: u64,
    stored: u64,
    /// Acknowledged after more than one attempt.
    retried: u64,
    /// Acknowledged with a 200: stored by an attempt whose answer was lost.
    replayed: u64,
}

/// Matches the acknowledged messages with those stored, per conversation.
fn compare(acknowledged: &[Acknowledged], stored: &[Vec<Message>]) -> Report {
    let mut duplicated = 0;
    let mut by_client_id: Vec<HashMap<&str, &str>> = Vec::new();
    for messages in stored {
        let mut seen = HashSet::new();
        let mut bodies = HashMap::new();
        for message in messages {
            let client_id = message
                .client_id
                .as_deref()
                .expect("customer messages carry one");
            if !seen.insert(client_id) {
                duplicated += 1;
            }
            bodies.insert(client_id, message.body.as_str());
        }
        by_client_id.push(bodies);
    }
    let found = acknowledged
        .iter()
        .filter(|a| {
            by_client_id[a.conversation].get(a.client_id.as_str()) == Some(&a.body.as_str())
        })
        .count() as u64;
    Report {
        acknowledged: acknowledged.len() as u64,
        found,
        lost: acknowledged.len() as u64 - found,
        duplicated,
        stored: stored.iter().map(|m| m.len() as u64).sum(),
        retried: acknowledged.iter().filter(|a| a.attempts > 1).count() as u64,
        replayed: acknowledged.iter().filter(|a| a.replayed).count() as u64,
    }
}
