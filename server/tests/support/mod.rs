//! Test fixture: the real server on 127.0.0.1:0 over a fresh SQLite file in
//! a temporary folder, with one helper per endpoint.
//!
//! With `MESSENGER_TEST_ENGINE=postgres` and `MESSENGER_TEST_POSTGRES_URL`
//! (a superuser URL of a throwaway cluster, as `scripts/with-postgres.sh`
//! gives), every test's server runs on PostgreSQL instead, each in a fresh
//! schema of its own.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use messenger_server::config::Database;
use messenger_server::feed::Feed;
use messenger_server::store::Store;
use messenger_server::{AppState, Config, accounts};
use messenger_wire::{
    AgentAccount, ConversationPage, InboxConversationList, InboxSession, Login, Message, NewAgent,
    Role, SendMessage, StartedConversation,
};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const AGENT_KEY: &str = "test-agent-key-0123456789";

pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The server's store, to set up accounts directly through the library.
    pub store: Store,
    /// The server's state (its clock, the mail worker's pass).
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// A server over a new, empty database.
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        Self::spawn_in(dir, |_| {}).await
    }

    /// A server over a new SQLite file whatever the engine of the run: for
    /// tests of SQLite itself (its file, its journal mode).
    pub async fn spawn_sqlite() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SQLITE_MARKER), "").unwrap();
        Self::spawn_in(dir, |_| {}).await
    }

    /// A server over a new database, with the configuration adjusted.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        Self::spawn_in(dir, adjust).await
    }

    /// A server over a new database whose live feed holds only `capacity`
    /// events, so slow streams lag behind it.
    pub async fn spawn_with_feed_capacity(capacity: usize) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        Self::spawn_in_with(dir, |_| {}, Feed::with_capacity(capacity)).await
    }

    /// A server over the database `data/messenger.db` in `dir`, which may
    /// exist already.
    pub async fn spawn_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_in_with(dir, adjust, Feed::new()).await
    }

    async fn spawn_in_with(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
        feed: Feed,
    ) -> TestApp {
        let assets = dir.path().join("dist");
        write_fake_assets(&assets);
        let mut config = Config::for_tests(dir.path().join("data/messenger.db"), assets);
        config.database = database_in(dir.path()).await;
        config.agent_api_key = Some(AGENT_KEY.parse().unwrap());
        adjust(&mut config);
        let listener = TcpListener::bind(config.addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::with_feed(&config, feed).await.unwrap();
        let store = state.store.clone();
        let state_copy = state.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(messenger_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            dir,
            store,
            state: state_copy,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server (gracefully, as on SIGTERM) and starts a new one over
    /// the same database file.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::spawn_in(dir, |_| {}).await
    }

    /// [`TestApp::restart`] with the configuration adjusted.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.stop().await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::spawn_in(dir, adjust).await
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// The database this server runs on (the same one after a restart).
    pub async fn database_url(&self) -> Database {
        database_in(self.dir.path()).await
    }

    /// Everything the database holds, as bytes to search: the SQLite file
    /// and its WAL, or every row of every table as text on PostgreSQL
    /// (hashes show there as hex).
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match self.database_url().await {
            Database::Sqlite(path) => {
                let mut bytes = std::fs::read(&path).unwrap_or_default();
                bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
                bytes
            }
            Database::Postgres(_) => {
                let db = self.database().await;
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(&db)
                .await
                .unwrap();
                let mut bytes = Vec::new();
                for table in tables {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" t"))
                            .fetch_all(&db)
                            .await
                            .unwrap();
                    for row in rows {
                        bytes.extend(row.into_bytes());
                        bytes.push(b'\n');
                    }
                }
                db.close().await;
                bytes
            }
        }
    }

    /// The SQLite file (tests of SQLite itself; see [`TestApp::spawn_sqlite`]).
    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("data/messenger.db")
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    pub async fn start_conversation(&self) -> StartedConversation {
        let response = self
            .client
            .post(self.api("/conversations"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `POST /conversations` with an optional JSON body and User-Agent.
    pub async fn start_conversation_raw(
        &self,
        body: Option<serde_json::Value>,
        user_agent: Option<&str>,
    ) -> Response {
        let mut request = self.client.post(self.api("/conversations"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(user_agent) = user_agent {
            request = request.header("user-agent", user_agent);
        }
        request.send().await.unwrap()
    }

    /// A connection of its own to the server's database, for what no API
    /// does yet (or to look behind the API).
    pub async fn database(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = match self.database_url().await {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres(url) => url,
        };
        let sqlite = url.starts_with("sqlite:");
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::Executor::execute(conn, "PRAGMA busy_timeout = 5000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap()
    }

    /// Sets the customer's name and email of a conversation directly in the
    /// database (until an identify API exists).
    pub async fn set_customer(&self, conversation_id: &str, name: &str, email: &str) {
        let db = self.database().await;
        sqlx::query(
            "UPDATE conversations SET customer_name = $1, customer_email = $2 WHERE id = $3",
        )
        .bind(name)
        .bind(email)
        .bind(conversation_id)
        .execute(&db)
        .await
        .unwrap();
        db.close().await;
    }

    pub async fn send_raw(&self, token: &str, client_id: &str, body: &str) -> Response {
        self.client
            .post(self.api("/conversation/messages"))
            .bearer_auth(token)
            .json(&SendMessage {
                client_id: client_id.into(),
                body: body.into(),
            })
            .send()
            .await
            .unwrap()
    }

    /// Sends a customer message that must be accepted as new.
    pub async fn send(&self, token: &str, client_id: &str, body: &str) -> Message {
        let response = self.send_raw(token, client_id, body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "send {client_id}");
        response.json().await.unwrap()
    }

    pub async fn read_raw(&self, token: &str, query: &str) -> Response {
        self.client
            .get(self.api(&format!("/conversation{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn read(&self, token: &str, query: &str) -> ConversationPage {
        let response = self.read_raw(token, query).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn agent_get(&self, path: &str) -> Response {
        self.client
            .get(self.api(&format!("/agent{path}")))
            .bearer_auth(AGENT_KEY)
            .send()
            .await
            .unwrap()
    }

    pub async fn agent_reply(
        &self,
        conversation_id: &str,
        client_id: &str,
        body: &str,
    ) -> Response {
        self.client
            .post(self.api(&format!("/agent/conversations/{conversation_id}/messages")))
            .bearer_auth(AGENT_KEY)
            .json(&SendMessage {
                client_id: client_id.into(),
                body: body.into(),
            })
            .send()
            .await
            .unwrap()
    }

    /// Every message of the conversation, oldest first, by paging back.
    pub async fn all_messages(&self, token: &str) -> Vec<Message> {
        let mut page = self.read(token, "?limit=200").await;
        let mut all = page.messages.clone();
        while let Some(cursor) = page.older_cursor.clone() {
            page = self
                .read(token, &format!("?limit=200&before={cursor}"))
                .await;
            let mut older = page.messages.clone();
            older.append(&mut all);
            all = older;
        }
        all
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts the response is an error with the given status and code, and
/// returns its message.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "error bodies are JSON"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// A stand-in for Trunk's output, enough to test how assets are served.
fn write_fake_assets(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("widget.js"),
        "(function(){'use strict';/* loader */})();\n".repeat(40),
    )
    .unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><html><head><script type=\"module\">import init from '/frame/messenger-widget-0123456789abcdef.js';init();</script></head><body></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.join("messenger-widget-0123456789abcdef.js"),
        "export default function init() {}\n".repeat(100),
    )
    .unwrap();
    std::fs::write(
        dir.join("messenger-widget-0123456789abcdef_bg.wasm"),
        b"\0asm\x01\0\0\0".repeat(200),
    )
    .unwrap();
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// A minimal SSE reader over a streaming response.
pub struct EventStream {
    response: Response,
    buffer: String,
    /// The last `id:` received, as a browser keeps it for `Last-Event-ID`
    /// (also from blocks without an event, which are not returned).
    pub last_id: Option<String>,
}

impl EventStream {
    pub fn new(response: Response) -> Self {
        EventStream {
            response,
            buffer: String::new(),
            last_id: None,
        }
    }

    /// The next event (comments skipped), or `None` if the stream ended or
    /// nothing came within `wait`.
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    id: None,
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().into();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().into());
                        self.last_id = event.id.clone();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next message event, decoded (read and typing events skipped).
    pub async fn next_message(&mut self) -> Option<Message> {
        let event = self.next_of("message").await?;
        let message: Message = serde_json::from_str(&event.data).unwrap();
        assert_eq!(event.id.as_deref(), Some(message.seq.to_string().as_str()));
        Some(message)
    }

    /// The next event of the given kind within 5 seconds, others skipped.
    pub async fn next_of(&mut self, kind: &str) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_within(left).await?;
            if event.event == kind {
                return Some(event);
            }
        }
    }
}

impl TestApp {
    /// Opens the customer stream; `resume` is sent as `Last-Event-ID`.
    pub async fn open_stream(&self, token: &str, resume: Option<i64>) -> Response {
        let mut request = self
            .client
            .get(self.api("/conversation/events"))
            .bearer_auth(token);
        if let Some(seq) = resume {
            request = request.header("last-event-id", seq.to_string());
        }
        request.send().await.unwrap()
    }

    pub async fn stream(&self, token: &str, resume: Option<i64>) -> EventStream {
        let response = self.open_stream(token, resume).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"))
        );
        EventStream::new(response)
    }
}

/// A password long enough for every account the tests create.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Creates an agent account directly through the library.
    pub async fn create_agent(&self, email: &str, name: &str, role: Role) -> AgentAccount {
        let new = NewAgent {
            email: email.into(),
            name: name.into(),
            password: PASSWORD.into(),
            role,
        };
        accounts::create_agent(&self.store, new, messenger_server::now_ms())
            .await
            .unwrap()
    }

    pub async fn create_admin(&self, email: &str) -> AgentAccount {
        self.create_agent(email, "Admin", Role::Admin).await
    }

    /// `POST /inbox/session` as a tool would send it (no `Origin`).
    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.api("/inbox/session"))
            .json(&Login {
                email: email.into(),
                password: password.into(),
            })
            .send()
            .await
            .unwrap()
    }

    /// Signs in, which must succeed, and returns a client that carries the
    /// session cookie and the CSRF token.
    pub async fn login(&self, email: &str, password: &str) -> InboxClient {
        let response = self.login_raw(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        let cookie = response
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let session: InboxSession = response.json().await.unwrap();
        InboxClient {
            app_url: self.url.clone(),
            client: self.client.clone(),
            cookie,
            csrf: session.csrf_token,
            agent: session.agent,
        }
    }
}

/// A browser-like inbox client: every request carries the session cookie
/// and this server's `Origin`; [`InboxClient::send`] adds the CSRF token.
pub struct InboxClient {
    pub app_url: String,
    pub client: reqwest::Client,
    /// `mw_session=...`
    pub cookie: String,
    pub csrf: String,
    pub agent: AgentAccount,
}

impl InboxClient {
    /// A request to `/api/v1/inbox{path}` with the cookie and the origin only.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1/inbox{path}", self.app_url))
            .header("cookie", &self.cookie)
            .header("origin", &self.app_url)
    }

    /// A request with the cookie, the origin and the CSRF token, and a JSON
    /// body if given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Response {
        let mut request = self
            .request(method, path)
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// `GET /inbox/conversations{query}`, which must succeed.
    pub async fn list(&self, query: &str) -> InboxConversationList {
        let response = self.get(&format!("/conversations{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "list {query}");
        response.json().await.unwrap()
    }

    /// The ids of `list(query)`, in order.
    pub async fn list_ids(&self, query: &str) -> Vec<String> {
        self.list(query)
            .await
            .conversations
            .into_iter()
            .map(|c| c.id)
            .collect()
    }

    /// Opens `/inbox/events` (live from now).
    pub async fn events(&self) -> EventStream {
        let response = self.get("/events").await;
        assert_eq!(response.status(), StatusCode::OK);
        EventStream::new(response)
    }
}

/// In a test's folder: says its database is SQLite whatever the run's engine.
const SQLITE_MARKER: &str = "sqlite-only";
/// In a test's folder: the URL of its PostgreSQL schema, once made.
const POSTGRES_MARKER: &str = "postgres-url";

/// The database of the test whose folder is `dir`: `data/messenger.db` in it,
/// or (with `MESSENGER_TEST_ENGINE=postgres`) a fresh PostgreSQL schema, made on
/// first use and the same one afterwards (restarts find their data).
pub async fn database_in(dir: &Path) -> Database {
    // A schema made for this test already (by `postgres_schema_in`) wins.
    if let Ok(url) = std::fs::read_to_string(dir.join(POSTGRES_MARKER)) {
        return Database::Postgres(url);
    }
    let on_postgres = std::env::var("MESSENGER_TEST_ENGINE").is_ok_and(|e| e == "postgres");
    if !on_postgres || dir.join(SQLITE_MARKER).exists() {
        return Database::Sqlite(dir.join("data/messenger.db"));
    }
    postgres_schema_in(dir).await
}

/// A fresh PostgreSQL schema for the test whose folder is `dir` (the same
/// one on later calls), on the cluster of `MESSENGER_TEST_POSTGRES_URL`,
/// whatever the engine of the run: for tests of PostgreSQL itself (several
/// instances, the copy from SQLite). Without that variable, the test fails
/// and says how to run it.
pub async fn postgres_schema_in(dir: &Path) -> Database {
    let admin = std::env::var("MESSENGER_TEST_POSTGRES_URL").unwrap_or_default();
    assert!(
        !admin.is_empty(),
        "this test needs PostgreSQL: run it as `scripts/with-postgres.sh cargo test -p messenger-server` \
         (or set MESSENGER_TEST_POSTGRES_URL to a superuser URL of a throwaway cluster)"
    );
    let marker = dir.join(POSTGRES_MARKER);
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return Database::Postgres(url);
    }
    let schema = format!("t_{}", &messenger_server::ids::conversation_id()[2..]).to_lowercase();
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("MESSENGER_TEST_POSTGRES_URL: a PostgreSQL server to connect to");
    sqlx::Executor::execute(&mut connection, format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let _ = sqlx::Connection::close(connection).await;
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}options[search_path]={schema}");
    std::fs::write(&marker, &url).unwrap();
    Database::Postgres(url)
}

/// The `--database` argument for a command of the binary.
pub fn database_arg(database: &Database) -> String {
    match database {
        Database::Sqlite(path) => path.display().to_string(),
        Database::Postgres(url) => url.clone(),
    }
}
