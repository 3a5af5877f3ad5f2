//! `messenger-server copy-to-postgres`: a site's SQLite database, with real
//! data made through the API, copied by the real binary into PostgreSQL; a
//! server on PostgreSQL then serves the same customers, agents, keys and
//! history, and carries on numbering. A target with data is refused and left
//! as it was; a SQLite file of an older version is refused with what to do.
//!
//! Needs `MESSENGER_TEST_POSTGRES_URL` (see `scripts/with-postgres.sh`):
//! without it these tests fail, saying so.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use messenger_server::config::Database;
use messenger_server::store::Backend;
use messenger_wire::{
    ApiKeyList, ConversationStatus, CreatedApiKey, CreatedSite, CustomerAccount,
    InboxConversationView, Message, MessageEvent, Role, SiteList, StartedConversation,
};
use reqwest::StatusCode;
use serde_json::json;
use support::{AGENT_KEY, EventStream, InboxClient, PASSWORD, TestApp, assert_error};

const SHOP: &str = "https://shop.example";
const EVIL: &str = "https://evil.example";

/// A new temporary folder whose database is a fresh PostgreSQL schema.
/// (Without `MESSENGER_TEST_POSTGRES_URL` the test fails here, saying so.)
async fn postgres_dir() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let database = support::postgres_schema_in(dir.path()).await;
    assert!(matches!(database, Database::Postgres(_)));
    (dir, database)
}

/// The URL with a password in it (`user:PASSWORD@`), for a cluster that
/// trusts local connections: the command must never print it.
fn with_password(url: &str, password: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if !user.contains(':') => {
                format!("{scheme}://{user}:{password}@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Runs `messenger-server copy-to-postgres --from FROM --to TO` to its end.
async fn copy(from: &Path, to: &str) -> Output {
    let (from, to) = (from.to_owned(), to.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_messenger-server"));
        command
            .arg("copy-to-postgres")
            .arg("--from")
            .arg(&from)
            .arg("--to")
            .arg(&to)
            .stdin(Stdio::null())
            .env_remove("RUST_LOG");
        for (key, _) in std::env::vars() {
            if key.starts_with("MESSENGER_") {
                command.env_remove(key);
            }
        }
        command
            .output()
            .expect("run messenger-server copy-to-postgres")
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A connection of the test's own to a database.
async fn connect(database: &Database) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match database {
        Database::Sqlite(path) => format!("sqlite://{}", path.display()),
        Database::Postgres(url) => url.clone(),
    };
    sqlx::AnyPool::connect(&url).await.unwrap()
}

/// Rows of every table of a running server's database but those it writes
/// by itself (its leases and presence).
async fn row_counts(database: &Database) -> Vec<(String, i64)> {
    let db = connect(database).await;
    let mut counts = row_counts_in(&db).await;
    db.close().await;
    counts.retain(|(table, _)| table != "job_leases" && table != "presence");
    counts
}

/// Rows of every table.
async fn row_counts_in(db: &sqlx::AnyPool) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in messenger_server::copy::TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(db)
            .await
            .unwrap();
        counts.push(((*table).to_owned(), n));
    }
    counts
}

async fn highest_position(app: &TestApp) -> i64 {
    let db = app.database().await;
    let position: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM messages")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    position.unwrap_or(0)
}

async fn inbox_reply(agent: &InboxClient, id: &str, client_id: &str, body: &str) -> Message {
    let response = agent
        .post(
            &format!("/conversations/{id}/messages"),
            json!({"client_id": client_id, "body": body}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn view(agent: &InboxClient, id: &str) -> InboxConversationView {
    let response = agent.get(&format!("/conversations/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn account(app: &TestApp, token: &str) -> CustomerAccount {
    let response = app
        .client
        .get(app.api("/customer"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A customer request on the shop's site, from `origin`.
fn on_shop(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    origin: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.api(path))
        .header("x-messenger-site", key)
        .header("origin", origin)
}

/// What a SQLite server held before the copy, to find again after it.
struct Before {
    /// The admin's inbox session (cookie, CSRF token, account).
    admin: (String, String, messenger_wire::AgentAccount),
    api_key: String,
    site_key: String,
    sites: SiteList,
    keys: ApiKeyList,
    /// The customer with an email: token, conversation id, history.
    ana: (String, String, Vec<Message>),
    /// The closed conversation's id, and its note's body.
    closed: (String, String),
    /// The shop customer's token and history.
    shop: (String, Vec<Message>),
    inbox_ids: Vec<String>,
    position: i64,
}

/// A SQLite server with a bit of everything, made through the API.
async fn populate(app: &TestApp) -> Before {
    app.create_admin("admin@example.com").await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let admin = app.login("admin@example.com", PASSWORD).await;
    let bob = app.login("bob@example.com", PASSWORD).await;

    let response = admin
        .post(
            "/sites",
            json!({"name": "Shop", "allowed_origins": [SHOP], "color": "#ff0066"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let site: CreatedSite = response.json().await.unwrap();
    let response = admin.post("/api-keys", json!({"name": "CRM"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let key: CreatedApiKey = response.json().await.unwrap();

    // Ana: messages both ways, through the inbox and the agent API, and an email.
    let ana = app.start_conversation().await;
    app.send(&ana.token, "c1", "Où est ma commande ? Numéro 4711")
        .await;
    inbox_reply(&bob, &ana.conversation.id, "r1", "Let me check, Ana.").await;
    let response = app
        .agent_reply(&ana.conversation.id, "k1", "It ships tomorrow.")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    app.send(&ana.token, "c2", "Merci beaucoup").await;
    let response = app
        .client
        .put(app.api("/customer/email"))
        .bearer_auth(&ana.token)
        .json(&json!({"email": "ana@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // A conversation with a note, then closed.
    let closed = app.start_conversation().await;
    app.send(&closed.token, "c1", "Cancel my subscription please")
        .await;
    inbox_reply(&admin, &closed.conversation.id, "r1", "Done.").await;
    let note = "Refunded the last invoice";
    let response = bob
        .post(
            &format!("/conversations/{}/notes", closed.conversation.id),
            json!({"client_id": "n1", "body": note}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = admin
        .post(
            &format!("/conversations/{}/close", closed.conversation.id),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // A customer of the shop's site, from its page.
    let response = on_shop(
        app,
        reqwest::Method::POST,
        "/conversations",
        &site.site.key,
        SHOP,
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let shopper: StartedConversation = response.json().await.unwrap();
    let response = on_shop(
        app,
        reqwest::Method::POST,
        "/conversation/messages",
        &site.site.key,
        SHOP,
    )
    .bearer_auth(&shopper.token)
    .json(&json!({"client_id": "s1", "body": "Do you ship to Norway?"}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let shop_history = on_shop(
        app,
        reqwest::Method::GET,
        "/conversation",
        &site.site.key,
        SHOP,
    )
    .bearer_auth(&shopper.token)
    .send()
    .await
    .unwrap()
    .json::<messenger_wire::ConversationPage>()
    .await
    .unwrap()
    .messages;

    Before {
        admin: (
            admin.cookie.clone(),
            admin.csrf.clone(),
            admin.agent.clone(),
        ),
        api_key: key.secret.clone(),
        site_key: site.site.key.clone(),
        sites: admin.get("/sites").await.json().await.unwrap(),
        keys: admin.get("/api-keys").await.json().await.unwrap(),
        ana: (
            ana.token.clone(),
            ana.conversation.id.clone(),
            app.all_messages(&ana.token).await,
        ),
        closed: (closed.conversation.id.clone(), note.to_owned()),
        shop: (shopper.token, shop_history),
        inbox_ids: admin.list_ids("").await,
        position: highest_position(app).await,
    }
}

#[tokio::test]
async fn a_sqlite_site_copied_into_postgres_carries_on_there() {
    let (pg_dir, target) = postgres_dir().await;
    let mut sqlite = TestApp::spawn_sqlite().await;
    let before = populate(&sqlite).await;
    assert_eq!(before.ana.2.len(), 4);
    assert_eq!(before.inbox_ids.len(), 3);
    sqlite.stop().await;
    let source = sqlite.database().await;
    let source_counts = row_counts_in(&source).await;
    source.close().await;

    let Database::Postgres(url) = &target else {
        unreachable!()
    };
    let url_with_password = with_password(url, "s3cret-Passw0rd");
    let output = copy(&sqlite.database_path(), &url_with_password).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "copy failed: {stderr}\n{stdout}");
    for (table, rows) in &source_counts {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no count for {table} in:\n{stdout}"));
        let numbers: Vec<&str> = line.split_whitespace().skip(1).collect();
        assert_eq!(numbers, [rows.to_string(), rows.to_string()], "{line}");
    }
    assert!(stdout.contains("copied "), "{stdout}");
    assert!(
        !stdout.contains("s3cret-Passw0rd") && !stderr.contains("s3cret-Passw0rd"),
        "the password never shows:\n{stdout}\n{stderr}"
    );

    let copied = connect(&target).await;
    assert_eq!(row_counts_in(&copied).await, source_counts);
    copied.close().await;

    let app = TestApp::spawn_in(pg_dir, |c| c.database = target.clone()).await;

    // The customer's token reads the same history, and the next seq follows.
    let (token, ana_id, history) = &before.ana;
    assert_eq!(&app.all_messages(token).await, history);
    let sent = app.send(token, "c3", "One more question").await;
    assert_eq!(sent.seq, history.last().unwrap().seq + 1);
    let ana_account = account(&app, token).await;
    assert_eq!(ana_account.email.as_deref(), Some("ana@example.com"));

    // The shop's customer, on the shop's site and only from its origin.
    let (shop_token, shop_history) = &before.shop;
    let page: messenger_wire::ConversationPage = on_shop(
        &app,
        reqwest::Method::GET,
        "/conversation",
        &before.site_key,
        SHOP,
    )
    .bearer_auth(shop_token)
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(&page.messages, shop_history);
    let refused = on_shop(
        &app,
        reqwest::Method::POST,
        "/conversations",
        &before.site_key,
        EVIL,
    )
    .json(&json!({}))
    .send()
    .await
    .unwrap();
    assert_error(refused, StatusCode::FORBIDDEN, "origin_not_allowed").await;

    // Agents: the same password, and the session signed in before still works.
    let bob = app.login("bob@example.com", PASSWORD).await;
    assert_eq!(bob.agent.name, "Bob");
    let (cookie, csrf, agent) = before.admin.clone();
    let admin = InboxClient {
        app_url: app.url.clone(),
        client: app.client.clone(),
        cookie,
        csrf,
        agent,
    };
    let response = admin.get("/session").await;
    assert_eq!(response.status(), StatusCode::OK, "the old session");
    let sites: SiteList = admin.get("/sites").await.json().await.unwrap();
    assert_eq!(sites, before.sites);

    // The inbox lists the same conversations (Ana's now on top), and search
    // finds a word of a copied message.
    let mut expected = before.inbox_ids.clone();
    expected.retain(|id| id != ana_id);
    expected.insert(0, ana_id.clone());
    assert_eq!(bob.list_ids("").await, expected);
    assert_eq!(bob.list_ids("?q=commande").await, [ana_id.as_str()]);
    assert_eq!(bob.list_ids("?q=norway").await.len(), 1);
    let (closed_id, note) = &before.closed;
    assert_eq!(bob.list_ids("?status=closed").await, [closed_id.as_str()]);
    let closed = view(&bob, closed_id).await;
    assert_eq!(closed.conversation.status, ConversationStatus::Closed);
    assert_eq!(closed.notes.len(), 1);
    assert_eq!(&closed.notes[0].body, note);

    // The API key made in the inbox works; the list of keys is the same
    // (but for its use just now).
    let response = app
        .client
        .get(app.api("/agent/conversations"))
        .bearer_auth(&before.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let keys: ApiKeyList = admin.get("/api-keys").await.json().await.unwrap();
    assert_eq!(keys.keys.len(), before.keys.keys.len());
    assert_eq!(keys.keys[0].id, before.keys.keys[0].id);
    assert_eq!(keys.keys[0].hint, before.keys.keys[0].hint);

    // Global positions carry on: an agent stream resumed at the copied
    // highest one gets the customer's new message (sent above, at +1) and
    // the next reply at +2.
    let response = app
        .client
        .get(app.api("/agent/events"))
        .bearer_auth(AGENT_KEY)
        .header("last-event-id", before.position.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = EventStream::new(response);
    inbox_reply(&bob, ana_id, "r9", "Sure, ask away.").await;
    for (position, body) in [
        (before.position + 1, "One more question"),
        (before.position + 2, "Sure, ask away."),
    ] {
        let event = events.next_of("message").await.expect("a message event");
        assert_eq!(event.id, Some(position.to_string()));
        let message: MessageEvent = serde_json::from_str(&event.data).unwrap();
        assert_eq!(message.message.body, body);
    }
}

#[tokio::test]
async fn a_target_with_data_is_refused_and_left_unchanged() {
    let (pg_dir, target) = postgres_dir().await;
    let mut sqlite = TestApp::spawn_sqlite().await;
    let started = sqlite.start_conversation().await;
    sqlite.send(&started.token, "c1", "Hello from SQLite").await;
    sqlite.stop().await;

    // A server already ran on the target and has a conversation of its own.
    let app = TestApp::spawn_in(pg_dir, |c| c.database = target.clone()).await;
    let theirs = app.start_conversation().await;
    app.send(&theirs.token, "c1", "Hello from PostgreSQL").await;
    let counts = row_counts(&target).await;

    let Database::Postgres(url) = &target else {
        unreachable!()
    };
    let output = copy(&sqlite.database_path(), url).await;
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "a target with data is refused");
    assert!(
        stderr.contains("holds data already") && stderr.contains("conversations: 1"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(row_counts(&target).await, counts);
    let history = app.all_messages(&theirs.token).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].body, "Hello from PostgreSQL");
    assert_eq!(
        app.read_raw(&started.token, "").await.status(),
        StatusCode::UNAUTHORIZED,
        "nothing of the SQLite file came in"
    );
}

#[tokio::test]
async fn a_sqlite_file_of_an_older_version_is_refused_with_what_to_do() {
    let (_pg_dir, target) = postgres_dir().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // A file as an older server left it: all but the last migration.
    let mut migrator = sqlx::migrate::Migrator {
        migrations: Backend::Sqlite.migrator().migrations.clone(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    let latest = migrator.migrations.iter().map(|m| m.version).max().unwrap();
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version < latest)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    migrator.run(&pool).await.unwrap();
    pool.close().await;

    let Database::Postgres(url) = &target else {
        unreachable!()
    };
    let output = copy(&path, url).await;
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("is at migration {}", latest - 1))
            && stderr.contains("start this messenger-server once on the SQLite file"),
        "{stderr}"
    );
}
