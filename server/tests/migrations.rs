//! Schema upgrades: a database written before message positions existed
//! gets them on start, in the order its messages were stored.

use std::path::Path;

use messenger_server::feed::Feed;
use messenger_server::store::{Appended, Store};
use messenger_wire::Author;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Applies only the migrations before `first_skipped` to a new database.
async fn database_before(path: &Path, first_skipped: &str) -> sqlx::SqlitePool {
    let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let older = path.parent().unwrap().join("older-migrations");
    std::fs::create_dir_all(&older).unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < first_skipped {
            std::fs::copy(entry.path(), older.join(&name)).unwrap();
        }
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(older.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool
}

#[tokio::test]
async fn existing_messages_get_positions_in_the_order_they_were_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messenger.db");
    let old = database_before(&path, "0003").await;
    for (id, hash) in [("c_a", 1u8), ("c_b", 2)] {
        sqlx::query(
            "INSERT INTO conversations (id, token_hash, created_at, last_activity_at, last_seq)
             VALUES ($1, $2, 0, 0, 2)",
        )
        .bind(id)
        .bind(vec![hash; 32])
        .execute(&old)
        .await
        .unwrap();
    }
    // Stored in this order; neither the ids nor the times sort that way.
    let stored = [
        ("m_3", "c_b", 1, 30),
        ("m_1", "c_a", 1, 10),
        ("m_4", "c_b", 2, 5),
        ("m_2", "c_a", 2, 20),
    ];
    for (id, conversation, seq, at) in stored {
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, author, client_id, body, created_at)
             VALUES ($1, $2, $3, 'customer', $4, 'x', $5)",
        )
        .bind(id)
        .bind(conversation)
        .bind(seq)
        .bind(id)
        .bind(at)
        .execute(&old)
        .await
        .unwrap();
    }
    old.close().await;

    let store = Store::open(&path.clone().into(), Feed::new())
        .await
        .unwrap();
    let positioned = store.messages_after_position(0, 200).await.unwrap();
    let got: Vec<(i64, &str, &str)> = positioned
        .iter()
        .map(|p| {
            (
                p.position,
                p.conversation_id.as_str(),
                p.message.id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "c_b", "m_3"),
            (2, "c_a", "m_1"),
            (3, "c_b", "m_4"),
            (4, "c_a", "m_2"),
        ]
    );
    assert_eq!(store.last_position().await.unwrap(), 4);

    // New messages continue after them.
    let appended = store
        .append_message("c_a", Author::Agent, "reply-1", "hello", 100)
        .await
        .unwrap();
    let Appended::Created(message, position) = appended else {
        panic!("not created: {appended:?}");
    };
    assert_eq!((message.seq, position), (3, 5));
    assert_eq!(
        store.messages_after_position(4, 200).await.unwrap().len(),
        1
    );
    store.close().await;
}

#[tokio::test]
async fn existing_conversations_get_their_wait_and_their_messages_become_searchable() {
    use messenger_server::store::InboxFilter;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("messenger.db");
    let old = database_before(&path, "0005").await;
    for (id, hash, last_seq) in [("c_waits", 1u8, 3), ("c_answered", 2, 2)] {
        sqlx::query(
            "INSERT INTO conversations (id, token_hash, created_at, last_activity_at, last_seq)
             VALUES ($1, $2, 0, 40, $3)",
        )
        .bind(id)
        .bind(vec![hash; 32])
        .bind(last_seq)
        .execute(&old)
        .await
        .unwrap();
    }
    let stored = [
        ("m_1", "c_waits", 1, "customer", "my invoice", 10),
        ("m_2", "c_waits", 2, "agent", "looking", 20),
        ("m_3", "c_waits", 3, "customer", "still wrong", 30),
        ("m_4", "c_answered", 1, "customer", "parcel lost", 15),
        ("m_5", "c_answered", 2, "bot", "found it", 25),
    ];
    for (position, (id, conversation, seq, author, body, at)) in stored.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, author, client_id, body, created_at, position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(conversation)
        .bind(seq)
        .bind(author)
        .bind(id)
        .bind(body)
        .bind(at)
        .bind(position as i64 + 1)
        .execute(&old)
        .await
        .unwrap();
    }
    old.close().await;

    let store = Store::open(&path.clone().into(), Feed::new())
        .await
        .unwrap();
    let waits = store.inbox_conversation("c_waits").await.unwrap().unwrap();
    assert_eq!(waits.waiting_since, Some(30));
    assert_eq!(waits.status, messenger_wire::ConversationStatus::Open);
    let answered = store
        .inbox_conversation("c_answered")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answered.waiting_since, None);
    for (query, expected) in [("invoice", "c_waits"), ("parcel", "c_answered")] {
        let filter = InboxFilter {
            query: Some(query.into()),
            ..InboxFilter::default()
        };
        let (found, _) = store.list_inbox(&filter, None, 10).await.unwrap();
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, [expected], "{query}");
    }
    store.close().await;
}
