//! The HTTP API against the real server on port 0 and a real SQLite file.

mod support;

use std::collections::HashSet;

use messenger_wire::{Author, ConversationList, MAX_MESSAGE_CHARS, Message};
use reqwest::StatusCode;
use support::{AGENT_KEY, TestApp, assert_error};

// ---- conversation lifecycle -------------------------------------------------

#[tokio::test]
async fn a_new_conversation_is_empty_and_readable_with_its_token() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    assert!(started.token.len() >= 40, "token carries at least 128 bits");

    let page = app.read(&started.token, "").await;
    assert_eq!(page.conversation.id, started.conversation.id);
    assert!(page.messages.is_empty());
    assert_eq!(page.older_cursor, None);
}

#[tokio::test]
async fn every_conversation_gets_a_different_token() {
    let app = TestApp::spawn().await;
    let mut tokens = HashSet::new();
    for _ in 0..20 {
        assert!(tokens.insert(app.start_conversation().await.token));
    }
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    app.send(&started.token, "m1", "hello").await;
    let mut app = app;
    app.stop().await;
    let bytes = app.stored_bytes().await;
    assert!(
        bytes.windows(5).any(|w| w == b"hello"),
        "the search sees the stored conversation"
    );
    let needle = started.token.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "the token itself is not in the database"
    );
}

#[tokio::test]
async fn sent_messages_come_back_in_order_with_growing_sequence_numbers() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let first = app.send(&token, "m1", "Hello").await;
    let second = app.send(&token, "m2", "Is anyone there?").await;
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(first.author, Author::Customer);

    let page = app.read(&token, "").await;
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Hello", "Is anyone there?"]);
    assert_eq!(page.conversation.last_seq, 2);
}

#[tokio::test]
async fn message_text_is_stored_exactly_as_sent() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let body = "  <img src=x onerror=alert(1)>\n\tline two — ünïcödé 👋  ";
    app.send(&token, "m1", body).await;
    assert_eq!(app.read(&token, "").await.messages[0].body, body);
}

// ---- pagination -------------------------------------------------------------

#[tokio::test]
async fn history_pages_back_with_a_cursor_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for i in 1..=120 {
        app.send(&token, &format!("m{i}"), &format!("message {i}"))
            .await;
    }

    let latest = app.read(&token, "?limit=50").await;
    let seqs: Vec<i64> = latest.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (71..=120).collect::<Vec<_>>());
    let cursor = latest.older_cursor.expect("older messages exist");

    let older = app
        .read(&token, &format!("?limit=50&before={cursor}"))
        .await;
    let seqs: Vec<i64> = older.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (21..=70).collect::<Vec<_>>());

    let oldest = app
        .read(
            &token,
            &format!("?limit=50&before={}", older.older_cursor.unwrap()),
        )
        .await;
    let seqs: Vec<i64> = oldest.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    assert_eq!(
        oldest.older_cursor, None,
        "the first page says it is the first"
    );

    let all = app.all_messages(&token).await;
    assert_eq!(all.len(), 120);
}

#[tokio::test]
async fn a_page_that_holds_the_first_message_has_no_older_cursor() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for i in 1..=50 {
        app.send(&token, &format!("m{i}"), "x").await;
    }
    let page = app.read(&token, "?limit=50").await;
    assert_eq!(page.messages.len(), 50);
    assert_eq!(page.older_cursor, None);
}

#[tokio::test]
async fn after_returns_only_newer_messages() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for i in 1..=5 {
        app.send(&token, &format!("m{i}"), &format!("message {i}"))
            .await;
    }
    let page = app.read(&token, "?after=3").await;
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [4, 5]);
    assert!(app.read(&token, "?after=5").await.messages.is_empty());
}

#[tokio::test]
async fn malformed_cursors_and_limits_are_a_400() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for query in [
        "?before=abc",
        "?before=-1",
        "?limit=0",
        "?limit=100000",
        "?limit=x",
        "?after=-2",
        "?before=3&after=1",
    ] {
        let response = app.read_raw(&token, query).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

// ---- idempotent send --------------------------------------------------------

#[tokio::test]
async fn resending_the_same_client_id_and_body_returns_the_original_message() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let original = app.send(&token, "retry-1", "Hello").await;

    let response = app.send_raw(&token, "retry-1", "Hello").await;
    assert_eq!(response.status(), StatusCode::OK);
    let replayed: Message = response.json().await.unwrap();
    assert_eq!(replayed, original);
    assert_eq!(app.all_messages(&token).await.len(), 1);
}

#[tokio::test]
async fn reusing_a_client_id_with_a_different_body_is_a_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    app.send(&token, "dup", "Hello").await;
    let response = app.send_raw(&token, "dup", "Goodbye").await;
    assert_error(response, StatusCode::CONFLICT, "client_id_conflict").await;
    let all = app.all_messages(&token).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "Hello");
}

#[tokio::test]
async fn concurrent_duplicate_sends_store_one_message() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let sends = (0..25).map(|_| app.send_raw(&token, "same-id", "Only once"));
    let responses = futures::future::join_all(sends).await;
    let mut created = 0;
    let mut ids = HashSet::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected status {other}"),
        }
        ids.insert(response.json::<Message>().await.unwrap().id);
    }
    assert_eq!(created, 1, "exactly one send created the message");
    assert_eq!(ids.len(), 1, "every answer is the same message");
    assert_eq!(app.all_messages(&token).await.len(), 1);
}

#[tokio::test]
async fn concurrent_distinct_sends_all_get_distinct_gapless_sequence_numbers() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let ids: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let sends = ids.iter().map(|id| app.send_raw(&token, id, "hi"));
    for response in futures::future::join_all(sends).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let seqs: Vec<i64> = app
        .all_messages(&token)
        .await
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

// ---- bad input --------------------------------------------------------------

/// Each bad request gets its error, and the message accepted before it is
/// still there afterwards.
#[tokio::test]
async fn bad_messages_are_refused_with_stable_codes_and_lose_nothing() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let kept = app.send(&token, "kept", "accepted before").await;

    let empty = app.send_raw(&token, "e1", "").await;
    assert_error(empty, StatusCode::UNPROCESSABLE_ENTITY, "message_empty").await;
    let blank = app.send_raw(&token, "e2", "  \n\t ").await;
    assert_error(blank, StatusCode::UNPROCESSABLE_ENTITY, "message_empty").await;
    let long = app
        .send_raw(&token, "e3", &"a".repeat(MAX_MESSAGE_CHARS + 1))
        .await;
    assert_error(long, StatusCode::UNPROCESSABLE_ENTITY, "message_too_long").await;
    let bad_id = app.send_raw(&token, "has spaces", "hi").await;
    assert_error(bad_id, StatusCode::BAD_REQUEST, "invalid_client_id").await;
    let no_id = app.send_raw(&token, "", "hi").await;
    assert_error(no_id, StatusCode::BAD_REQUEST, "invalid_client_id").await;

    let all = app.all_messages(&token).await;
    assert_eq!(all, vec![kept]);
}

#[tokio::test]
async fn a_message_of_exactly_the_maximum_length_is_accepted() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    app.send(&token, "max", &"€".repeat(MAX_MESSAGE_CHARS))
        .await;
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_json_error_body() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let kept = app.send(&token, "kept", "accepted before").await;
    for body in [
        "{not json",
        "[]",
        r#"{"client_id": "x"}"#,
        r#"{"client_id": 5, "body": "x"}"#,
    ] {
        let response = app
            .client
            .post(app.api("/conversation/messages"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_json").await;
    }
    assert_eq!(app.all_messages(&token).await, vec![kept]);
}

#[tokio::test]
async fn a_body_without_the_json_content_type_is_a_415() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let response = app
        .client
        .post(app.api("/conversation/messages"))
        .bearer_auth(&token)
        .body(r#"{"client_id":"a","body":"b"}"#)
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let kept = app.send(&token, "kept", "accepted before").await;
    let huge = format!(
        r#"{{"client_id":"big","body":"{}"}}"#,
        "a".repeat(messenger_server::BODY_LIMIT + 1)
    );
    let response = app
        .client
        .post(app.api("/conversation/messages"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(app.all_messages(&token).await, vec![kept]);
}

#[tokio::test]
async fn unknown_api_routes_are_a_json_404() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.api("/nope")).send().await.unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

// ---- authentication and isolation -------------------------------------------

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_get_the_same_401() {
    let app = TestApp::spawn().await;
    let real = app.start_conversation().await.token;
    let mut messages = HashSet::new();

    let missing = app
        .client
        .get(app.api("/conversation"))
        .send()
        .await
        .unwrap();
    messages.insert(assert_error(missing, StatusCode::UNAUTHORIZED, "unauthorized").await);
    let basic = app
        .client
        .get(app.api("/conversation"))
        .header("authorization", format!("Basic {real}"))
        .send()
        .await
        .unwrap();
    messages.insert(assert_error(basic, StatusCode::UNAUTHORIZED, "unauthorized").await);
    let unknown = app
        .read_raw("mwc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
        .await;
    messages.insert(assert_error(unknown, StatusCode::UNAUTHORIZED, "unauthorized").await);
    let truncated = app.read_raw(&real[..real.len() - 1], "").await;
    messages.insert(assert_error(truncated, StatusCode::UNAUTHORIZED, "unauthorized").await);
    let send = app.send_raw("mwc_unknown", "m1", "hello").await;
    messages.insert(assert_error(send, StatusCode::UNAUTHORIZED, "unauthorized").await);

    assert_eq!(messages.len(), 1, "nothing tells the cases apart");
}

#[tokio::test]
async fn the_token_of_conversation_a_can_neither_read_nor_write_conversation_b() {
    let app = TestApp::spawn().await;
    let a = app.start_conversation().await;
    let b = app.start_conversation().await;
    app.send(&a.token, "same-id", "from A").await;
    app.send(&b.token, "same-id", "from B").await;

    let page_a = app.read(&a.token, "").await;
    assert_eq!(page_a.conversation.id, a.conversation.id);
    let bodies: Vec<_> = page_a.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["from A"], "A sees only its own messages");

    // A write with A's token lands in A, whatever else the request says.
    app.send(&a.token, "second", "A again").await;
    let bodies_b: Vec<_> = app
        .all_messages(&b.token)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies_b, ["from B"]);

    // A customer token opens no agent endpoint, not even for its own conversation.
    let response = app
        .client
        .get(app.api(&format!("/agent/conversations/{}", b.conversation.id)))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = app
        .client
        .post(app.api(&format!(
            "/agent/conversations/{}/messages",
            b.conversation.id
        )))
        .bearer_auth(&a.token)
        .json(&serde_json::json!({"client_id": "x", "body": "spoofed agent"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.all_messages(&b.token).await.len(), 1);
}

// ---- agent API --------------------------------------------------------------

#[tokio::test]
async fn agents_list_conversations_by_last_activity_and_skip_empty_ones() {
    let app = TestApp::spawn().await;
    let first = app.start_conversation().await;
    let second = app.start_conversation().await;
    let _empty = app.start_conversation().await;
    app.send(&first.token, "m1", "first writes").await;
    app.send(&second.token, "m1", "second writes").await;

    let list: ConversationList = app.agent_get("/conversations").await.json().await.unwrap();
    let ids: Vec<_> = list
        .conversations
        .iter()
        .map(|c| c.conversation.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            second.conversation.id.as_str(),
            first.conversation.id.as_str()
        ]
    );
    assert_eq!(
        list.conversations[0].last_message.as_ref().unwrap().body,
        "second writes"
    );

    // Ensure a later timestamp, then the first conversation moves to the top.
    let before = list.conversations[0].conversation.last_activity_at;
    loop {
        let m = app
            .send(
                &first.token,
                &format!("m{}", messenger_server::now_ms()),
                "again",
            )
            .await;
        if m.created_at > before {
            break;
        }
    }
    let list: ConversationList = app.agent_get("/conversations").await.json().await.unwrap();
    assert_eq!(list.conversations[0].conversation.id, first.conversation.id);
}

#[tokio::test]
async fn the_agent_list_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let mut expected = HashSet::new();
    for _ in 0..7 {
        let c = app.start_conversation().await;
        app.send(&c.token, "m1", "hi").await;
        expected.insert(c.conversation.id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/conversations?limit=3&before={c}"),
            None => "/conversations?limit=3".to_owned(),
        };
        let list: ConversationList = app.agent_get(&query).await.json().await.unwrap();
        assert!(list.conversations.len() <= 3);
        seen.extend(list.conversations.into_iter().map(|c| c.conversation.id));
        match list.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "no conversation twice");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);

    let bad = app.agent_get("/conversations?before=garbage").await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn an_agent_reply_reaches_the_customer_as_an_agent_message() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    app.send(&started.token, "m1", "Where is my order?").await;

    let response = app
        .agent_reply(&started.conversation.id, "a1", "It ships today.")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let reply: Message = response.json().await.unwrap();
    assert_eq!((reply.author, reply.seq), (Author::Agent, 2));

    // Retried reply: the same message, not a second one.
    let again = app
        .agent_reply(&started.conversation.id, "a1", "It ships today.")
        .await;
    assert_eq!(again.status(), StatusCode::OK);

    let page = app.read(&started.token, "").await;
    let authors: Vec<_> = page.messages.iter().map(|m| m.author).collect();
    assert_eq!(authors, [Author::Customer, Author::Agent]);

    let agent_view = app
        .agent_get(&format!("/conversations/{}", started.conversation.id))
        .await;
    assert_eq!(agent_view.status(), StatusCode::OK);
    let agent_page: messenger_wire::ConversationPage = agent_view.json().await.unwrap();
    assert_eq!(agent_page.messages, page.messages);
}

#[tokio::test]
async fn agent_endpoints_refuse_a_wrong_or_missing_key() {
    let app = TestApp::spawn().await;
    let missing = app
        .client
        .get(app.api("/agent/conversations"))
        .send()
        .await
        .unwrap();
    assert_error(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong = app
        .client
        .get(app.api("/agent/conversations"))
        .bearer_auth(format!("{AGENT_KEY}x"))
        .send()
        .await
        .unwrap();
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn without_a_configured_key_the_agent_api_refuses_everyone() {
    let app = TestApp::spawn_with(|c| c.agent_api_key = None).await;
    let response = app.agent_get("/conversations").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn replying_to_an_unknown_conversation_is_a_404() {
    let app = TestApp::spawn().await;
    let response = app.agent_reply("c_doesnotexist", "a1", "hello?").await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.agent_get("/conversations/c_doesnotexist").await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

// ---- durability -------------------------------------------------------------

#[tokio::test]
async fn conversations_survive_a_server_restart() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    app.send(&started.token, "m1", "before the restart").await;
    app.agent_reply(&started.conversation.id, "a1", "reply before the restart")
        .await;

    let app = app.restart().await;
    let page = app.read(&started.token, "").await;
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["before the restart", "reply before the restart"]);

    // Sequence numbers go on where they stopped; idempotency keys still hold.
    let next = app.send(&started.token, "m2", "after the restart").await;
    assert_eq!(next.seq, 3);
    let replay = app
        .send_raw(&started.token, "m1", "before the restart")
        .await;
    assert_eq!(replay.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_database_file_is_created_with_its_folder_and_uses_wal() {
    let app = TestApp::spawn_sqlite().await;
    assert!(app.database_path().exists());
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(app.database_path())
        .read_only(true);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}
