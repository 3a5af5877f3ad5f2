//! The operator's handles of the real `messenger-server` process: the
//! readiness probe, the Prometheus metrics on their private address, JSON
//! logs that never hold secrets or message bodies, and the configuration
//! file with its precedence (flags > environment > file > defaults).

mod process;

use std::time::{Duration, Instant};

use messenger_wire::{CreatedApiKey, SendMessage};
use process::{Launch, ServerProcess, start_conversation};
use reqwest::StatusCode;
use serde_json::{Value, json};

const AGENT_KEY: &str = "ops-test-configured-agent-key-5150";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn send(client: &reqwest::Client, server: &ServerProcess, token: &str, id: &str, body: &str) {
    let response = client
        .post(server.api("/conversation/messages"))
        .bearer_auth(token)
        .json(&SendMessage {
            client_id: id.into(),
            body: body.into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

// ---- readiness ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_ready_on_a_migrated_database_and_503_with_a_reason_when_a_migration_is_missing()
{
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path()).start().await;
    let client = client();

    let response = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ready" }));

    // The database loses its newest migration behind the server's back (an
    // older backup restored over it, say): the instance must leave the
    // load balancer's rotation, while staying alive.
    let database =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("m.db").display()))
            .await
            .unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&database)
    .await
    .unwrap();
    database.close().await;

    let response = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("migrations not applied"), "{reason}");

    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "still alive, only not ready"
    );
}

// ---- metrics -----------------------------------------------------------------

/// The value of the sample `name{labels…}` in Prometheus text, if present.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            return None;
        }
        let (series, value) = rest.rsplit_once(' ')?;
        labels
            .iter()
            .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
            .then(|| value.parse().unwrap())
    })
}

async fn scrape(client: &reqwest::Client, server: &ServerProcess) -> String {
    let response = client.get(server.metrics_url()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Scrapes until `sample(name, labels)` equals `want`; panics after 10 s.
async fn wait_for_sample(
    client: &reqwest::Client,
    server: &ServerProcess,
    name: &str,
    labels: &[(&str, &str)],
    want: f64,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(client, server).await;
        let got = sample(&text, name, labels);
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} stayed at {got:?}, not {want}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_streams_and_messages_on_the_private_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path())
        .arg("--metrics-addr")
        .arg("127.0.0.1:0")
        .env("MESSENGER_AGENT_API_KEY", AGENT_KEY)
        .start()
        .await;
    let client = client();

    // Not on the public address.
    let public = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    assert!(!public.text().await.unwrap().contains("messenger_"));

    let text = scrape(&client, &server).await;
    for gauge in [
        "messenger_append_queue_depth",
        "messenger_mail_queue_depth",
        "messenger_db_pool_connections",
    ] {
        assert!(sample(&text, gauge, &[]).is_some(), "{gauge} in:\n{text}");
    }
    assert_eq!(
        sample(&text, "messenger_open_streams", &[("kind", "customer")]),
        Some(0.0)
    );

    let (token, conversation_id) = start_conversation(&client, &server).await;
    send(&client, &server, &token, "m1", "first").await;
    send(&client, &server, &token, "m2", "second").await;
    // A replay is no new message.
    let replay = client
        .post(server.api("/conversation/messages"))
        .bearer_auth(&token)
        .json(&SendMessage {
            client_id: "m2".into(),
            body: "second".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    let reply = client
        .post(server.api(&format!("/agent/conversations/{conversation_id}/messages")))
        .bearer_auth(AGENT_KEY)
        .json(&SendMessage {
            client_id: "a1".into(),
            body: "an answer".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);

    let text = scrape(&client, &server).await;
    let sends = [
        ("method", "POST"),
        ("route", "/api/v1/conversation/messages"),
        ("status", "201"),
    ];
    assert_eq!(
        sample(&text, "messenger_http_requests_total", &sends),
        Some(2.0),
        "{text}"
    );
    let replays = [
        ("route", "/api/v1/conversation/messages"),
        ("status", "200"),
    ];
    assert_eq!(
        sample(&text, "messenger_http_requests_total", &replays),
        Some(1.0)
    );
    let replies = [
        ("route", "/api/v1/agent/conversations/{id}/messages"),
        ("status", "201"),
    ];
    assert_eq!(
        sample(&text, "messenger_http_requests_total", &replies),
        Some(1.0)
    );
    assert!(
        !text.contains(&conversation_id),
        "routes are patterns, never paths with ids"
    );
    let latency = [
        ("method", "POST"),
        ("route", "/api/v1/conversation/messages"),
        ("le", "+Inf"),
    ];
    assert_eq!(
        sample(
            &text,
            "messenger_http_request_duration_seconds_bucket",
            &latency
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "messenger_messages_total", &[("author", "customer")]),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "messenger_messages_total", &[("author", "agent")]),
        Some(1.0)
    );
    let unknown = client
        .get(server.api("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Streams: up while open, down once the client goes away.
    let customer_stream = client
        .get(server.api("/conversation/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(customer_stream.status(), StatusCode::OK);
    wait_for_sample(
        &client,
        &server,
        "messenger_open_streams",
        &[("kind", "customer")],
        1.0,
    )
    .await;
    let agent_stream = client
        .get(server.api("/agent/events"))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(agent_stream.status(), StatusCode::OK);
    wait_for_sample(
        &client,
        &server,
        "messenger_open_streams",
        &[("kind", "agent")],
        1.0,
    )
    .await;
    drop(customer_stream);
    wait_for_sample(
        &client,
        &server,
        "messenger_open_streams",
        &[("kind", "customer")],
        0.0,
    )
    .await;
    drop(agent_stream);
    wait_for_sample(
        &client,
        &server,
        "messenger_open_streams",
        &[("kind", "agent")],
        0.0,
    )
    .await;

    let text = scrape(&client, &server).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("messenger_http_requests_total")
                && l.contains("route=\"unmatched\"")),
        "{text}"
    );
}

// ---- logs --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_hold_no_secret_nor_message_body() {
    let dir = tempfile::tempdir().unwrap();
    let admin_email = "ops-admin@example.com";
    let password = "correct-horse-battery-ops-7";
    let wrong_password = "wrong-password-ops-zebra-42";
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_messenger-server"))
        .args([
            "create-admin",
            "--email",
            admin_email,
            "--name",
            "Ops Admin",
            "--database",
        ])
        .arg(dir.path().join("m.db"))
        .env("MESSENGER_ADMIN_PASSWORD", password)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    let mut server = Launch::new(dir.path())
        .arg("--log-format")
        .arg("json")
        .env("MESSENGER_AGENT_API_KEY", AGENT_KEY)
        .start()
        .await;
    let client = client();
    let customer_body = "my secret parcel number is QX-PLATYPUS-778";
    let reply_body = "inbox reply about the MARMOT-3141 parcel";
    let api_reply_body = "agent API reply WOMBAT-2718";

    let (token, conversation_id) = start_conversation(&client, &server).await;
    send(&client, &server, &token, "c1", customer_body).await;
    let refused = client
        .post(server.api("/conversation/messages"))
        .bearer_auth("not-a-real-customer-token-OCELOT")
        .json(&json!({ "client_id": "x", "body": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let failed = client
        .post(server.api("/inbox/session"))
        .json(&json!({ "email": admin_email, "password": wrong_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let login = client
        .post(server.api("/inbox/session"))
        .json(&json!({ "email": admin_email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session: Value = login.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let inbox = |method: reqwest::Method, path: &str| {
        client
            .request(method, server.api(&format!("/inbox{path}")))
            .header("cookie", &cookie)
            .header("origin", server.url(""))
            .header("x-csrf-token", &csrf)
    };
    let replied = inbox(
        reqwest::Method::POST,
        &format!("/conversations/{conversation_id}/messages"),
    )
    .json(&json!({ "client_id": "i1", "body": reply_body }))
    .send()
    .await
    .unwrap();
    assert_eq!(replied.status(), StatusCode::CREATED);
    let key: CreatedApiKey = inbox(reqwest::Method::POST, "/api-keys")
        .json(&json!({ "name": "ops test" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (id, bearer) in [("k1", key.secret.as_str()), ("k2", AGENT_KEY)] {
        let reply = client
            .post(server.api(&format!("/agent/conversations/{conversation_id}/messages")))
            .bearer_auth(bearer)
            .json(&json!({ "client_id": id, "body": api_reply_body }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED);
    }
    let read = client
        .get(server.api("/conversation?limit=50"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);

    server.terminate();
    let status = server
        .wait_until(Instant::now() + Duration::from_secs(20))
        .await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");

    let logs = server.logs();
    let session_cookie = cookie.split_once('=').unwrap().1;
    let secrets = [
        ("customer message body", customer_body),
        ("inbox reply body", reply_body),
        ("agent API reply body", api_reply_body),
        ("customer token", token.as_str()),
        ("refused token", "not-a-real-customer-token-OCELOT"),
        ("password", password),
        ("wrong password", wrong_password),
        ("session cookie", session_cookie),
        ("CSRF token", csrf.as_str()),
        ("API key", key.secret.as_str()),
        ("configured agent API key", AGENT_KEY),
    ];
    for (what, secret) in secrets {
        assert!(!logs.contains(secret), "the {what} is in the logs:\n{logs}");
    }
    let mut messages = Vec::new();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("a log line that is not JSON ({err}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
        messages.push(
            entry["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    for expected in [
        "database ready",
        "inbox login",
        "failed inbox login",
        "shutting down",
        "stopped",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "no {expected:?} in {messages:?}"
        );
    }
}

// ---- configuration file --------------------------------------------------------

/// The `agent API on URL/…` line: it shows the `public-url` in force.
async fn public_url_of(server: &ServerProcess) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server.stdout.lock().unwrap().iter().find_map(|line| {
            line.strip_prefix("agent API on ")
                .and_then(|rest| rest.strip_suffix("/api/v1/agent/conversations"))
                .map(str::to_owned)
        });
        if let Some(url) = found {
            return url;
        }
        assert!(Instant::now() < deadline, "no agent API line");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_is_used_the_environment_beats_it_and_a_flag_beats_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messenger.toml");
    std::fs::write(
        &file,
        "# a deployment's settings\n\
         addr = \"127.0.0.1:0\"\n\
         public-url = \"http://from-file.example\"\n\
         allowed-origins = [\"https://shop.example\", \"https://www.shop.example\"]\n\
         shutdown-timeout-secs = 5\n",
    )
    .unwrap();
    let config = file.display().to_string();

    let server = Launch::new(dir.path())
        .without_addr()
        .arg("--config")
        .arg(&config)
        .start()
        .await;
    assert_eq!(public_url_of(&server).await, "http://from-file.example");
    assert_ne!(server.addr.port(), 8080, "the file's addr, not the default");
    drop(server);

    // MESSENGER_CONFIG names the file as well as --config does.
    let server = Launch::new(dir.path())
        .without_addr()
        .env("MESSENGER_CONFIG", &config)
        .env("MESSENGER_PUBLIC_URL", "http://from-env.example")
        .start()
        .await;
    assert_eq!(public_url_of(&server).await, "http://from-env.example");
    drop(server);

    let server = Launch::new(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("--public-url")
        .arg("http://from-flag.example")
        .env("MESSENGER_PUBLIC_URL", "http://from-env.example")
        .start()
        .await;
    assert_eq!(public_url_of(&server).await, "http://from-flag.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_in_the_config_file_stops_the_start_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messenger.toml");
    std::fs::write(&file, "addr = \"127.0.0.1:0\"\nlisten-port = 8080\n").unwrap();
    let (status, stderr) = Launch::new(dir.path())
        .arg("--config")
        .arg(file.display().to_string())
        .run_to_end();
    assert!(!status.success());
    assert!(stderr.contains("unknown key `listen-port`"), "{stderr}");
}
