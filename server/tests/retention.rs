//! Retention (`--retention-days`): conversations closed more than N days ago
//! are deleted with everything that is theirs alone; recently closed and
//! open ones stay; nothing is deleted without the flag; and of several
//! instances only one runs a given pass.

mod support;

use std::time::Duration;

use messenger_server::clock::Clock;
use messenger_server::retention::{self, Retention};
use messenger_wire::StartedConversation;
use reqwest::StatusCode;
use serde_json::json;
use support::{InboxClient, PASSWORD, TestApp};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A manual clock at the system's now (agent accounts are created with it).
fn clock() -> Clock {
    Clock::manual(messenger_server::now_ms())
}

async fn admin(app: &TestApp) -> InboxClient {
    app.create_admin("ann@example.com").await;
    app.login("ann@example.com", PASSWORD).await
}

/// A conversation with a customer message and an agent reply.
async fn conversation(app: &TestApp, words: &str) -> (String, StartedConversation) {
    let started = app.start_conversation().await;
    app.send(&started.token, "c1", &format!("Hello, {words}"))
        .await;
    let reply = app
        .agent_reply(&started.conversation.id, "a1", &format!("Re: {words}"))
        .await;
    assert_eq!(reply.status(), StatusCode::CREATED);
    (started.conversation.id.clone(), started)
}

async fn close(inbox: &InboxClient, id: &str) {
    let response = inbox
        .post(&format!("/conversations/{id}/close"), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn count(db: &sqlx::AnyPool, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn customer_of(db: &sqlx::AnyPool, conversation_id: &str) -> String {
    sqlx::query_scalar("SELECT customer_id FROM conversations WHERE id = $1")
        .bind(conversation_id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Every row of a conversation, table by table (the full-text index by
/// the conversation's own word).
async fn rows_of(db: &sqlx::AnyPool, id: &str, word: &str) -> [i64; 5] {
    [
        count(db, "SELECT count(*) FROM conversations WHERE id = $1", id).await,
        count(
            db,
            "SELECT count(*) FROM messages WHERE conversation_id = $1",
            id,
        )
        .await,
        count(
            db,
            "SELECT count(*) FROM notes WHERE conversation_id = $1",
            id,
        )
        .await,
        count(
            db,
            "SELECT count(*) FROM customer_tokens WHERE conversation_id = $1",
            id,
        )
        .await,
        count(
            db,
            if db.connect_options().database_url.scheme() == "sqlite" {
                "SELECT count(*) FROM message_search WHERE message_search MATCH $1"
            } else {
                "SELECT count(*) FROM messages
                 WHERE to_tsvector('simple', messenger_words(body)) @@ to_tsquery('simple', $1)"
            },
            word,
        )
        .await,
    ]
}

/// Every row of a customer: itself, its device tokens, resume links and
/// unsubscribe codes.
async fn customer_rows(db: &sqlx::AnyPool, customer: &str) -> [i64; 4] {
    [
        count(db, "SELECT count(*) FROM customers WHERE id = $1", customer).await,
        count(
            db,
            "SELECT count(*) FROM customer_tokens WHERE customer_id = $1",
            customer,
        )
        .await,
        count(
            db,
            "SELECT count(*) FROM resume_links WHERE customer_id = $1",
            customer,
        )
        .await,
        count(
            db,
            "SELECT count(*) FROM unsubscribe_codes WHERE customer_id = $1",
            customer,
        )
        .await,
    ]
}

#[tokio::test]
async fn a_conversation_closed_longer_ago_than_the_retention_goes_with_all_its_rows() {
    let clock = clock();
    let t0 = clock.now_ms();
    let app = TestApp::spawn_with(|c| {
        c.clock = clock.clone();
        c.retention_days = Some(30);
    })
    .await;
    // The pass at start (nothing to delete yet) is behind us.
    let mut passes = app.state.retention.as_ref().unwrap().passes();
    tokio::time::timeout(Duration::from_secs(10), passes.wait_for(|n| *n >= 1))
        .await
        .expect("a pass soon after start")
        .unwrap();
    let inbox = admin(&app).await;
    let db = app.database().await;

    // Closed 31 days ago, with a note, an email address, a resume link and
    // an unsubscribe code: all of it goes, and its customer with it.
    let (old, old_started) = conversation(&app, "zebrafish").await;
    let response = app
        .client
        .put(app.api("/customer/email"))
        .bearer_auth(&old_started.token)
        .json(&json!({ "email": "zed@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let note = inbox
        .post(
            &format!("/conversations/{old}/notes"),
            json!({"client_id": "n1", "body": "zebrafish fan"}),
        )
        .await;
    assert_eq!(note.status(), StatusCode::CREATED);
    let old_customer = customer_of(&db, &old).await;
    for sql in [
        "INSERT INTO resume_links (code_hash, customer_id, created_at, expires_at)
         VALUES ($3, $1, $2, $2)",
        "INSERT INTO unsubscribe_codes (code_hash, customer_id, created_at)
         VALUES ($3, $1, $2)",
    ] {
        sqlx::query(sql)
            .bind(&old_customer)
            .bind(t0)
            .bind(
                messenger_server::ids::hash_secret(&messenger_server::ids::conversation_id())
                    .to_vec(),
            )
            .execute(&db)
            .await
            .unwrap();
    }
    // Emails: one sent then, one still waiting to go out.
    for (subject, sent_at) in [("sent long ago", Some(t0)), ("still waiting", None)] {
        sqlx::query(
            "INSERT INTO mail_queue (recipient, subject, text_body, created_at, next_attempt_at, sent_at)
             VALUES ('zed@example.com', $1, 'Re: zebrafish', $2, $3, $4)",
        )
        .bind(subject)
        .bind(t0)
        .bind(t0)
        .bind(sent_at)
        .execute(&db)
        .await
        .unwrap();
    }
    close(&inbox, &old).await;

    // Closed as long ago, but its customer is one of the site's signed-in
    // users: the conversation goes, the customer stays.
    let (identified, _) = conversation(&app, "kingfisher").await;
    let identified_customer = customer_of(&db, &identified).await;
    sqlx::query("UPDATE customers SET external_id = 'user-42' WHERE id = $1")
        .bind(&identified_customer)
        .execute(&db)
        .await
        .unwrap();
    close(&inbox, &identified).await;

    // A customer with an old closed conversation and an open one keeps the
    // open one, and stays.
    let (shared_closed, _) = conversation(&app, "swordfish").await;
    let (shared_open, shared_started) = conversation(&app, "sunfish").await;
    let shared_customer = customer_of(&db, &shared_closed).await;
    sqlx::query("UPDATE conversations SET customer_id = $1 WHERE id = $2")
        .bind(&shared_customer)
        .bind(&shared_open)
        .execute(&db)
        .await
        .unwrap();
    close(&inbox, &shared_closed).await;

    // Old but open: stays.
    let (old_open, old_open_started) = conversation(&app, "catfish").await;

    // Closed 6 days before the pass: stays.
    clock.advance(25 * DAY_MS);
    let (recent, recent_started) = conversation(&app, "goldfish").await;
    close(&inbox, &recent).await;
    clock.advance(6 * DAY_MS);

    let purged = app
        .state
        .retention
        .as_ref()
        .expect("retention is on")
        .run_pass()
        .await
        .unwrap()
        .expect("the only instance gets the lease");
    assert_eq!(purged.conversations, 3);
    assert_eq!(purged.messages, 6);
    assert_eq!(purged.customers, 1);
    assert_eq!(purged.emails, 1);

    assert_eq!(rows_of(&db, &old, "zebrafish").await, [0; 5]);
    assert_eq!(customer_rows(&db, &old_customer).await, [0; 4]);
    assert_eq!(rows_of(&db, &identified, "kingfisher").await, [0; 5]);
    assert_eq!(customer_rows(&db, &identified_customer).await[0], 1);
    assert_eq!(rows_of(&db, &shared_closed, "swordfish").await, [0; 5]);
    assert_eq!(customer_rows(&db, &shared_customer).await[0], 1);
    let subjects: Vec<String> = sqlx::query_scalar(
        "SELECT subject FROM mail_queue WHERE recipient = 'zed@example.com' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(subjects, ["still waiting"]);

    for (id, word) in [
        (&shared_open, "sunfish"),
        (&old_open, "catfish"),
        (&recent, "goldfish"),
    ] {
        assert_eq!(rows_of(&db, id, word).await, [1, 2, 0, 1, 2], "{id}");
    }
    for started in [&shared_started, &old_open_started, &recent_started] {
        assert_eq!(app.all_messages(&started.token).await.len(), 2);
    }
    // The deleted conversation's token opens nothing any more.
    let gone = app.read_raw(&old_started.token, "").await;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    db.close().await;
}

#[tokio::test]
async fn nothing_is_deleted_without_the_flag_and_a_server_with_it_purges_soon_after_start() {
    let clock = clock();
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    assert!(app.state.retention.is_none(), "retention is off by default");
    let inbox = admin(&app).await;
    let (id, started) = conversation(&app, "herring").await;
    close(&inbox, &id).await;
    clock.advance(400 * DAY_MS);

    // A year later, a server without the flag still serves it.
    let app = app.restart_with(|c| c.clock = clock.clone()).await;
    assert_eq!(app.all_messages(&started.token).await.len(), 2);
    let db = app.database().await;
    assert_eq!(rows_of(&db, &id, "herring").await, [1, 2, 0, 1, 2]);
    db.close().await;

    // With it, the pass soon after start deletes it.
    let app = app
        .restart_with(|c| {
            c.clock = clock.clone();
            c.retention_days = Some(365);
        })
        .await;
    let mut passes = app.state.retention.as_ref().unwrap().passes();
    tokio::time::timeout(Duration::from_secs(10), passes.wait_for(|n| *n >= 1))
        .await
        .expect("a pass soon after start")
        .unwrap();
    let db = app.database().await;
    assert_eq!(rows_of(&db, &id, "herring").await, [0; 5]);
    db.close().await;
    assert_eq!(
        app.read_raw(&started.token, "").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn of_two_instances_only_one_runs_a_given_pass() {
    let clock = clock();
    let app = TestApp::spawn_with(|c| c.clock = clock.clone()).await;
    let inbox = admin(&app).await;
    let (id, _) = conversation(&app, "mackerel").await;
    close(&inbox, &id).await;
    clock.advance(31 * DAY_MS);

    let database = app.database_url().await;
    let a = Retention::open(&database, 30, clock.clone()).await.unwrap();
    let b = Retention::open(&database, 30, clock.clone()).await.unwrap();
    let (ran_a, ran_b) = tokio::join!(a.run_pass(), b.run_pass());
    let ran: Vec<_> = [ran_a.unwrap(), ran_b.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(ran.len(), 1, "exactly one instance ran the pass");
    assert_eq!(ran[0].conversations, 1);

    // While the lease lasts, neither may run another pass but its holder;
    // once it ends, either may.
    let holder_again = [a.run_pass().await.unwrap(), b.run_pass().await.unwrap()];
    assert_eq!(holder_again.iter().flatten().count(), 1);
    clock.advance(retention::LEASE_MS);
    assert!(b.run_pass().await.unwrap().is_some());
    assert!(a.run_pass().await.unwrap().is_none());
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_lease_is_claimed_while_free_expired_or_already_held() {
    let app = TestApp::spawn().await;
    let db = app.database().await;
    let claim = |holder: &'static str, now: i64| {
        let db = db.clone();
        async move {
            retention::claim_lease(&db, "job", holder, now, now + 100)
                .await
                .unwrap()
        }
    };
    assert!(claim("a", 1_000).await, "free");
    assert!(!claim("b", 1_050).await, "held by a");
    assert!(claim("a", 1_050).await, "a renews until 1150");
    assert!(!claim("b", 1_149).await, "still a's");
    assert!(claim("b", 1_150).await, "expired");
    let holder: String = sqlx::query_scalar("SELECT holder FROM job_leases WHERE name = 'job'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(holder, "b");
    db.close().await;
}

#[tokio::test]
async fn a_large_purge_goes_in_batches_and_deletes_everything_due() {
    let app = TestApp::spawn().await;
    let db = app.database().await;
    // 1,100 closed conversations without messages, and 3 with 6,000 each:
    // more than one batch by count, and by messages.
    let mut tx = db.begin().await.unwrap();
    let mut position = 0;
    for n in 0..1_103 {
        let id = format!("c_{n:032}");
        let messages = if n < 3 { 6_000 } else { 0 };
        sqlx::query(
            "INSERT INTO conversations (id, token_hash, created_at, last_activity_at, last_seq, status, closed_at)
             VALUES ($1, $3, 0, 0, $2, 'closed', 1000)",
        )
        .bind(&id)
        .bind(messages)
        .bind(messenger_server::ids::hash_secret(&id).to_vec())
        .execute(&mut *tx)
        .await
        .unwrap();
        for seq in 1..=messages {
            position += 1;
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, seq, author, body, created_at, position)
                 VALUES ($1, $2, $3, 'customer', 'old words', 0, $4)",
            )
            .bind(format!("m_{position}"))
            .bind(&id)
            .bind(seq)
            .bind(position)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    // One closed after the cutoff stays.
    let kept = app.start_conversation().await;
    sqlx::query("UPDATE conversations SET status = 'closed', closed_at = 5000 WHERE id = $1")
        .bind(&kept.conversation.id)
        .execute(&db)
        .await
        .unwrap();

    let purged = retention::purge_closed_before(&db, 2_000).await.unwrap();
    assert_eq!(purged.conversations, 1_103);
    assert_eq!(purged.messages, 18_000);
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM conversations")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(left, std::slice::from_ref(&kept.conversation.id));
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(messages, 0);
    db.close().await;
}
