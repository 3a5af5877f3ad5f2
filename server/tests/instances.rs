//! Several instances over one PostgreSQL: two real `messenger-server`
//! processes on loopback ports share one database (a fresh schema). A
//! message posted through one reaches the streams open on the other, in
//! order and once; a customer whose instance is killed resumes on the other
//! without loss; an email queued while both run is sent once.
//!
//! Needs `MESSENGER_TEST_POSTGRES_URL` (see `scripts/with-postgres.sh`):
//! without it these tests fail, saying so.

mod process;
#[path = "support/smtp.rs"]
mod smtp;
mod support;

use std::time::{Duration, Instant};

use messenger_wire::{Message, MessageEvent, SendMessage};
use process::{Launch, ServerProcess, start_conversation};
use reqwest::StatusCode;
use serde_json::json;
use smtp::SmtpSink;
use support::{EventStream, SseEvent};

const AGENT_KEY: &str = "instances-test-agent-key-0123456789";
/// Messages in the burst across the two instances.
const BURST: usize = 50;
/// Longest wait for what the instances do in the background.
const WAIT: Duration = Duration::from_secs(30);

/// One database for the instances of a test: a fresh PostgreSQL schema.
struct Shared {
    dir: tempfile::TempDir,
    /// `--database`: the schema's URL.
    url: String,
}

impl Shared {
    /// (Without `MESSENGER_TEST_POSTGRES_URL` the test fails here, saying so.)
    async fn new() -> Shared {
        let dir = tempfile::tempdir().unwrap();
        let database = support::postgres_schema_in(dir.path()).await;
        assert!(
            matches!(database, messenger_server::config::Database::Postgres(_)),
            "a PostgreSQL schema"
        );
        let url = support::database_arg(&database);
        Shared { dir, url }
    }

    /// An instance named `name` (its own folder for assets and logs) over
    /// the shared database, with the agent API key and `extra` flags.
    async fn start(&self, name: &str, extra: &[String]) -> ServerProcess {
        let dir = self.dir.path().join(name);
        let mut launch = Launch::new(&dir);
        let database = launch.args.iter().position(|a| a == "--database").unwrap();
        launch.args[database + 1] = self.url.clone();
        launch = launch.arg("--agent-api-key").arg(AGENT_KEY);
        for arg in extra {
            launch = launch.arg(arg.clone());
        }
        launch.start().await
    }

    /// A connection of the test's own to the database.
    async fn database(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A customer message through `server`, which must be stored.
async fn customer_sends(
    client: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    client_id: &str,
    body: &str,
) -> Message {
    let response = client
        .post(server.api("/conversation/messages"))
        .bearer_auth(token)
        .json(&SendMessage {
            client_id: client_id.into(),
            body: body.into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "send {client_id}");
    response.json().await.unwrap()
}

/// An agent reply through `server`'s agent API, which must be stored.
async fn agent_replies(
    client: &reqwest::Client,
    server: &ServerProcess,
    conversation_id: &str,
    client_id: &str,
    body: &str,
) -> Message {
    let response = client
        .post(server.api(&format!("/agent/conversations/{conversation_id}/messages")))
        .bearer_auth(AGENT_KEY)
        .json(&SendMessage {
            client_id: client_id.into(),
            body: body.into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "reply {client_id}");
    response.json().await.unwrap()
}

/// The customer stream on `server`, resuming after `last_seq` if given.
async fn customer_stream(
    client: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    last_seq: Option<i64>,
) -> EventStream {
    let mut request = client
        .get(server.api("/conversation/events"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(3600));
    if let Some(seq) = last_seq {
        request = request.header("last-event-id", seq.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    EventStream::new(response)
}

/// The agent stream on `server`, resuming after the global position given.
async fn agent_stream(
    client: &reqwest::Client,
    server: &ServerProcess,
    position: i64,
) -> EventStream {
    let response = client
        .get(server.api("/agent/events"))
        .bearer_auth(AGENT_KEY)
        .header("last-event-id", position.to_string())
        .timeout(Duration::from_secs(3600))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    EventStream::new(response)
}

/// The next message event of an agent stream: its position (the SSE id)
/// and the event.
async fn next_agent_message(
    stream: &mut EventStream,
    servers: &[&ServerProcess],
) -> (i64, MessageEvent) {
    let Some(SseEvent { id, data, .. }) = stream.next_of("message").await else {
        for server in servers {
            server.print_log_tail();
        }
        panic!("no message event on the agent stream within 5 s");
    };
    let position = id.expect("an id").parse().expect("a position");
    (position, serde_json::from_str(&data).unwrap())
}

async fn next_customer_message(stream: &mut EventStream, servers: &[&ServerProcess]) -> Message {
    match stream.next_message().await {
        Some(message) => message,
        None => {
            for server in servers {
                server.print_log_tail();
            }
            panic!("no message event on the customer stream within 5 s");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_posted_on_either_instance_reach_the_streams_on_the_other_in_order_once() {
    let shared = Shared::new().await;
    let a = shared.start("a", &[]).await;
    let b = shared.start("b", &[]).await;
    let client = client();
    let servers = [&a, &b];

    let (token, id) = start_conversation(&client, &a).await;
    let first = customer_sends(&client, &a, &token, "c0", "Hello, anyone there?").await;
    assert_eq!(first.seq, 1);

    // The customer's stream on B, the agents' on A; each has caught up
    // with the first message, so both follow their instance's feed.
    let mut on_b = customer_stream(&client, &b, &token, None).await;
    assert_eq!(next_customer_message(&mut on_b, &servers).await, first);
    let mut on_a = agent_stream(&client, &a, 0).await;
    let (first_position, event) = next_agent_message(&mut on_a, &servers).await;
    assert_eq!(event.message, first);

    // A burst: agent replies and customer messages, through both instances.
    let mut sent = Vec::new();
    for i in 1..=BURST {
        let body = format!("burst {i}");
        let message = match i % 4 {
            0 => agent_replies(&client, &a, &id, &format!("a{i}"), &body).await,
            1 => customer_sends(&client, &b, &token, &format!("c{i}"), &body).await,
            2 => agent_replies(&client, &b, &id, &format!("a{i}"), &body).await,
            _ => customer_sends(&client, &a, &token, &format!("c{i}"), &body).await,
        };
        assert_eq!(message.seq, i as i64 + 1);
        sent.push(message);
    }

    for message in &sent {
        assert_eq!(&next_customer_message(&mut on_b, &servers).await, message);
    }
    let mut position = first_position;
    for message in &sent {
        let (next, event) = next_agent_message(&mut on_a, &servers).await;
        assert!(next > position, "positions grow: {next} after {position}");
        position = next;
        assert_eq!(event.conversation_id, id);
        assert_eq!(&event.message, message);
    }

    // The same at once: every send in flight together, on both instances.
    let sends = (1..=BURST).map(|i| {
        let (client, token, id, a, b) = (&client, &token, &id, &a, &b);
        async move {
            let body = format!("together {i}");
            match i % 4 {
                0 => agent_replies(client, a, id, &format!("ta{i}"), &body).await,
                1 => customer_sends(client, b, token, &format!("tc{i}"), &body).await,
                2 => agent_replies(client, b, id, &format!("ta{i}"), &body).await,
                _ => customer_sends(client, a, token, &format!("tc{i}"), &body).await,
            }
        }
    });
    let mut together = futures::future::join_all(sends).await;
    together.sort_by_key(|m| m.seq);
    let seqs: Vec<i64> = together.iter().map(|m| m.seq).collect();
    let after = BURST as i64 + 1;
    assert_eq!(
        seqs,
        ((after + 1)..=(after + BURST as i64)).collect::<Vec<_>>()
    );
    for message in &together {
        assert_eq!(&next_customer_message(&mut on_b, &servers).await, message);
    }
    for message in &together {
        let (next, event) = next_agent_message(&mut on_a, &servers).await;
        assert!(next > position, "positions grow: {next} after {position}");
        position = next;
        assert_eq!(&event.message, message);
    }

    // Nothing twice: the next message on each stream is a new one.
    let last = agent_replies(&client, &b, &id, "last", "That is all.").await;
    assert_eq!(next_customer_message(&mut on_b, &servers).await, last);
    assert_eq!(
        next_agent_message(&mut on_a, &servers).await.1.message,
        last
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_whose_instance_is_killed_resumes_on_the_other_with_what_it_missed() {
    let shared = Shared::new().await;
    let a = shared.start("a", &[]).await;
    let mut b = shared.start("b", &[]).await;
    let client = client();

    let (token, id) = start_conversation(&client, &b).await;
    customer_sends(&client, &b, &token, "c1", "My parcel never came.").await;
    let mut on_b = customer_stream(&client, &b, &token, None).await;
    assert_eq!(next_customer_message(&mut on_b, &[&a, &b]).await.seq, 1);
    agent_replies(&client, &a, &id, "r1", "Sorry! Let me look.").await;
    let seen = next_customer_message(&mut on_b, &[&a, &b]).await;
    assert_eq!((seen.seq, seen.body.as_str()), (2, "Sorry! Let me look."));
    let last_seq = on_b.last_id.clone().expect("the stream's last id");
    assert_eq!(last_seq, "2");

    // B dies; the agent goes on answering through A meanwhile.
    b.kill();
    assert!(
        on_b.next_within(Duration::from_secs(5)).await.is_none(),
        "B's stream ended"
    );
    let mut missed = Vec::new();
    for (i, body) in [
        "It was sent back to us.",
        "We ship it again today.",
        "Tracking: XY123",
    ]
    .into_iter()
    .enumerate()
    {
        missed.push(agent_replies(&client, &a, &id, &format!("r{}", i + 2), body).await);
    }

    // The customer reconnects to A with its last seq: exactly what it missed.
    let mut on_a = customer_stream(&client, &a, &token, Some(2)).await;
    for message in &missed {
        assert_eq!(&next_customer_message(&mut on_a, &[&a]).await, message);
    }
    // ... then live, nothing twice; and it can write on.
    let live = agent_replies(&client, &a, &id, "r5", "Anything else?").await;
    assert_eq!(next_customer_message(&mut on_a, &[&a]).await, live);
    let answer = customer_sends(&client, &a, &token, "c2", "No, thanks!").await;
    assert_eq!(answer.seq, 7);
    assert_eq!(next_customer_message(&mut on_a, &[&a]).await, answer);
}

/// Polls `check` until it holds, at most until `deadline`.
async fn poll_until<F, Fut>(what: &str, deadline: Instant, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_email_queued_while_both_instances_run_is_sent_once() {
    const CUSTOMERS: usize = 6;
    let shared = Shared::new().await;
    let mut sink = SmtpSink::start().await;
    let mail = [
        "--smtp-url".to_owned(),
        format!("smtp://127.0.0.1:{}", sink.port()),
        "--followup-delay-secs".to_owned(),
        "1".to_owned(),
        "--site-url".to_owned(),
        "https://shop.test/help".to_owned(),
    ];
    let a = shared.start("a", &mail).await;
    let b = shared.start("b", &mail).await;
    let client = client();
    let servers = [&a, &b];

    // Customers who left an email get a reply they do not see (emailed
    // after the delay) and ask for a resume link, through either instance.
    let mut addresses = Vec::new();
    for i in 0..CUSTOMERS {
        let (here, there) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (token, id) = start_conversation(&client, here).await;
        customer_sends(&client, here, &token, "c1", &format!("Question {i}")).await;
        let email = format!("customer{i}@example.com");
        let response = client
            .put(there.api("/customer/email"))
            .bearer_auth(&token)
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        agent_replies(&client, there, &id, "r1", &format!("Answer {i}")).await;
        let response = client
            .post(here.api("/resume-links"))
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        addresses.push(email);
    }
    let expected = CUSTOMERS * 2;

    let mails = sink.wait_for_messages(expected, WAIT).await;
    // Every queued row is sent, in one attempt, and nothing is left to queue.
    let db = shared.database().await;
    poll_until("the queue to be sent", Instant::now() + WAIT, || async {
        let (rows, sent): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(sent_at) FROM mail_queue")
                .fetch_one(&db)
                .await
                .unwrap();
        rows >= expected as i64 && sent == rows
    })
    .await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_queue")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(queued, expected as i64, "each email queued once");
    let attempts: Vec<i64> = sqlx::query_scalar("SELECT attempts FROM mail_queue ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(
        attempts,
        vec![1; expected],
        "each email sent in one attempt"
    );
    let (pending_requests, due_followups): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM resume_requests),
                (SELECT count(*) FROM conversations WHERE followup_due_at IS NOT NULL)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        (pending_requests, due_followups),
        (0, 0),
        "nothing left to queue"
    );
    db.close().await;

    // One delivery per email: one reply notice and one link per address.
    let delivered = sink.messages();
    assert_eq!(
        delivered.len(),
        expected,
        "no second delivery: {:?}",
        delivered.iter().map(|m| m.summary()).collect::<Vec<_>>()
    );
    assert_eq!(delivered.len(), mails.len());
    for address in &addresses {
        let to_them: Vec<&str> = delivered
            .iter()
            .filter(|m| m.to == [address.clone()])
            .map(|m| m.subject.as_str())
            .collect();
        assert_eq!(to_them.len(), 2, "{address}: {to_them:?}");
        assert!(
            to_them.contains(&"Your link to continue the conversation"),
            "{to_them:?}"
        );
        assert!(
            to_them.iter().any(|s| s.contains("new reply")),
            "{to_them:?}"
        );
    }
    for server in servers {
        assert!(
            !server.logs().contains("ERROR"),
            "no errors: {}",
            server.logs()
        );
    }
}

/// An admin (made through the library in the shared database), signed in
/// on one instance.
struct Admin {
    cookie: String,
    csrf: String,
}

impl Admin {
    async fn sign_in(shared: &Shared, on: &ServerProcess, client: &reqwest::Client) -> Admin {
        let store = messenger_server::store::Store::open(
            &shared.url.parse().unwrap(),
            messenger_server::feed::Feed::new(),
        )
        .await
        .unwrap();
        let admin = messenger_wire::NewAgent {
            email: "root@example.com".into(),
            name: "Root".into(),
            password: support::PASSWORD.into(),
            role: messenger_wire::Role::Admin,
        };
        messenger_server::accounts::create_agent(&store, admin, messenger_server::now_ms())
            .await
            .unwrap();
        store.close().await;
        let response = client
            .post(on.api("/inbox/session"))
            .json(&messenger_wire::Login {
                email: "root@example.com".into(),
                password: support::PASSWORD.into(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let session: messenger_wire::InboxSession = response.json().await.unwrap();
        Admin {
            cookie,
            csrf: session.csrf_token,
        }
    }

    /// A state-changing inbox request on `on`, as the inbox sends it.
    fn post(
        &self,
        client: &reqwest::Client,
        on: &ServerProcess,
        path: &str,
    ) -> reqwest::RequestBuilder {
        client
            .post(on.api(&format!("/inbox{path}")))
            .header("cookie", &self.cookie)
            .header("origin", on.url(""))
            .header("x-csrf-token", &self.csrf)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_created_through_one_instance_is_served_by_the_other_at_once() {
    let shared = Shared::new().await;
    let a = shared.start("a", &[]).await;
    let b = shared.start("b", &[]).await;
    let client = client();
    let admin = Admin::sign_in(&shared, &a, &client).await;
    let response = admin
        .post(&client, &a, "/sites")
        .json(&json!({ "name": "Shop", "color": "#16a34a", "allowed_origins": ["https://shop.example"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: messenger_wire::CreatedSite = response.json().await.unwrap();
    // B loaded its sites at start, before this one existed; it serves the
    // new site's configuration as soon as the change reaches it, long
    // before its once-a-minute reading of every site would.
    let widget = b.api(&format!("/sites/{}/widget", created.site.key));
    poll_until(
        "B serves the new site",
        Instant::now() + Duration::from_secs(10),
        || {
            let (client, widget) = (client.clone(), widget.clone());
            async move {
                let response = client
                    .get(&widget)
                    .header("origin", "https://shop.example")
                    .send()
                    .await
                    .unwrap();
                if response.status() != StatusCode::OK {
                    return false;
                }
                let config: serde_json::Value = response.json().await.unwrap();
                config["color"] == "#16a34a"
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_revoked_through_one_instance_ends_its_stream_on_the_other_at_once() {
    let shared = Shared::new().await;
    let a = shared.start("a", &[]).await;
    let b = shared.start("b", &[]).await;
    let client = client();
    let admin = Admin::sign_in(&shared, &a, &client).await;
    let inbox = |path: &str| admin.post(&client, &a, path);
    let response = inbox("/api-keys")
        .json(&json!({ "name": "CRM" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: messenger_wire::CreatedApiKey = response.json().await.unwrap();

    // The integration's stream is open on B.
    let mut stream = client
        .get(b.api("/agent/events"))
        .bearer_auth(&created.secret)
        .timeout(Duration::from_secs(3600))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // Revoked through A: B ends the stream long before its periodic
    // re-check of the key (every 60 s) would.
    let response = inbox(&format!("/api-keys/{}/revoke", created.key.id))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None) | Err(_)) => break,
            Err(_) => panic!("the revoked key's stream on B is still open 20 s later"),
        }
    }
    // And the key opens nothing any more, on either instance.
    for server in [&a, &b] {
        let response = client
            .get(server.api("/agent/conversations"))
            .bearer_auth(&created.secret)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
