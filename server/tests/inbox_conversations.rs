//! The inbox's conversations against the real server on port 0: the list's
//! filters, its order (who has waited longest first) and search; closing and
//! reopening; assignments seen live by another agent; internal notes that
//! never reach the customer; what a start records; and the session, CSRF
//! and origin rules on every new route.

mod support;

use std::time::Duration;

use messenger_wire::{
    AgentAccount, ConversationPage, ConversationStatus, InboxConversation, InboxConversationView,
    Message, Note, Role,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{InboxClient, PASSWORD, TestApp, assert_error};

/// Lets the clock move on, so that times (Unix ms) differ.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// A signed-in agent named `name` (`name@example.com`).
async fn agent(app: &TestApp, name: &str) -> (AgentAccount, InboxClient) {
    let email = format!("{}@example.com", name.to_lowercase());
    let account = app.create_agent(&email, name, Role::Agent).await;
    let client = app.login(&email, PASSWORD).await;
    (account, client)
}

/// A new conversation with one customer message: its id and token.
async fn conversation_with(app: &TestApp, body: &str) -> (String, String) {
    let started = app.start_conversation().await;
    app.send(&started.token, "first", body).await;
    (started.conversation.id, started.token)
}

async fn reply(client: &InboxClient, id: &str, client_id: &str, body: &str) -> Message {
    let response = client
        .post(
            &format!("/conversations/{id}/messages"),
            json!({"client_id": client_id, "body": body}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn act(client: &InboxClient, id: &str, action: &str) -> InboxConversation {
    let response = client
        .post(&format!("/conversations/{id}/{action}"), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{action}");
    response.json().await.unwrap()
}

async fn assign(client: &InboxClient, id: &str, agent_id: Option<&str>) -> InboxConversation {
    let response = client
        .post(
            &format!("/conversations/{id}/assign"),
            json!({ "agent_id": agent_id }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn view(client: &InboxClient, id: &str, query: &str) -> InboxConversationView {
    let response = client.get(&format!("/conversations/{id}{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The inbox's view of one conversation.
async fn conversation_of(client: &InboxClient, id: &str) -> InboxConversation {
    view(client, id, "?limit=1").await.conversation
}

/// The next `event: conversation` of an inbox or agent stream.
async fn next_conversation_event(stream: &mut support::EventStream) -> InboxConversation {
    let event = stream
        .next_of("conversation")
        .await
        .expect("a conversation event");
    serde_json::from_str(&event.data).unwrap()
}

// ---- the list: filters and order ----------------------------------------------

#[tokio::test]
async fn the_list_filters_by_status_turn_and_assignee_and_puts_the_longest_wait_first() {
    let app = TestApp::spawn().await;
    let (ann, ann_client) = agent(&app, "Ann").await;
    let (bob, bob_client) = agent(&app, "Bob").await;

    let (a, _) = conversation_with(&app, "first to wait").await;
    tick().await;
    let (b, b_token) = conversation_with(&app, "second to wait").await;
    tick().await;
    let (c, _) = conversation_with(&app, "answered").await;
    tick().await;
    let (d, _) = conversation_with(&app, "done").await;
    tick().await;
    reply(&ann_client, &c, "r1", "Here you go").await;
    tick().await;
    act(&ann_client, &d, "close").await;

    assert_eq!(
        ann_client.list_ids("?status=open&waiting=us").await,
        [a.as_str(), b.as_str()]
    );
    assert_eq!(
        ann_client.list_ids("?status=open&waiting=customer").await,
        [c.as_str()]
    );
    assert_eq!(ann_client.list_ids("?status=closed").await, [d.as_str()]);
    assert_eq!(
        ann_client.list_ids("?status=open").await,
        [a.as_str(), b.as_str(), c.as_str()]
    );
    // Waiting on us first (longest first), then the rest by latest activity.
    assert_eq!(
        ann_client.list_ids("").await,
        [a.as_str(), b.as_str(), c.as_str(), d.as_str()]
    );
    // A closed conversation waits on nobody.
    assert_eq!(
        ann_client.list_ids("?waiting=us").await,
        [a.as_str(), b.as_str()]
    );

    let listed = ann_client.list("").await.conversations;
    assert_eq!(listed[0].status, ConversationStatus::Open);
    assert!(listed[0].waiting_since.is_some());
    assert_eq!(listed[0].unread, 1);
    assert_eq!(
        listed[0].last_message.as_ref().map(|m| m.body.as_str()),
        Some("first to wait")
    );
    assert_eq!(listed[2].waiting_since, None, "we had the last word");
    assert_eq!(listed[3].status, ConversationStatus::Closed);
    assert!(listed[3].closed_at.is_some());

    // Paging walks the same order.
    let mut paged = Vec::new();
    let mut query = "?limit=1".to_owned();
    loop {
        let page = ann_client.list(&query).await;
        paged.extend(page.conversations.into_iter().map(|c| c.id));
        match page.next_cursor {
            Some(cursor) => query = format!("?limit=1&before={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, [a.as_str(), b.as_str(), c.as_str(), d.as_str()]);

    // Mine, unassigned, all.
    assign(&ann_client, &a, Some(&ann.id)).await;
    let to_bob = assign(&ann_client, &b, Some(&bob.id)).await;
    assert_eq!(
        to_bob
            .assignee
            .as_ref()
            .map(|x| (x.id.as_str(), x.name.as_str())),
        Some((bob.id.as_str(), "Bob"))
    );
    assert_eq!(ann_client.list_ids("?assignee=me").await, [a.as_str()]);
    assert_eq!(bob_client.list_ids("?assignee=me").await, [b.as_str()]);
    assert_eq!(
        ann_client.list_ids("?assignee=unassigned").await,
        [c.as_str(), d.as_str()]
    );
    assert_eq!(ann_client.list_ids("?assignee=all").await.len(), 4);
    assert_eq!(
        bob_client
            .list_ids("?status=open&waiting=us&assignee=me")
            .await,
        [b.as_str()]
    );

    // Reading clears the unread count.
    let read = ann_client
        .post(&format!("/conversations/{a}/read"), json!({"seq": 1}))
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(ann_client.list("").await.conversations[0].unread, 0);

    // Writing again keeps one's place in the queue; an answer leaves it.
    tick().await;
    app.send(&b_token, "again", "hello?").await;
    assert_eq!(
        ann_client.list_ids("?status=open&waiting=us").await,
        [a.as_str(), b.as_str()]
    );
    reply(&ann_client, &a, "r2", "Sorry for the wait").await;
    assert_eq!(
        ann_client.list_ids("?status=open&waiting=us").await,
        [b.as_str()]
    );

    for bad in [
        "?status=pending",
        "?waiting=them",
        "?assignee=bob",
        "?before=nonsense",
        "?limit=0",
    ] {
        assert_error(
            ann_client.get(&format!("/conversations{bad}")).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
}

#[tokio::test]
async fn a_closed_conversation_reopens_when_the_customer_writes_and_moves_to_the_top() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let (first, first_token) = conversation_with(&app, "I need help").await;
    tick().await;
    reply(&ann, &first, "r1", "Done!").await;
    tick().await;
    let (second, _) = conversation_with(&app, "Another question").await;
    tick().await;
    reply(&ann, &second, "r2", "Answered").await;

    let closed = act(&ann, &first, "close").await;
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert!(closed.closed_at.is_some());
    assert_eq!(ann.list_ids("").await, [second.as_str(), first.as_str()]);
    assert!(ann.list_ids("?status=open").await == [second.as_str()]);

    tick().await;
    let message = app.send(&first_token, "back", "It broke again").await;
    let reopened = conversation_of(&ann, &first).await;
    assert_eq!(reopened.status, ConversationStatus::Open);
    assert_eq!(reopened.closed_at, None);
    assert_eq!(reopened.waiting_since, Some(message.created_at));
    assert_eq!(
        ann.list_ids("?status=open&waiting=us").await,
        [first.as_str()]
    );
    assert_eq!(
        ann.list_ids("").await,
        [first.as_str(), second.as_str()],
        "it moved up"
    );

    // Reopening by hand.
    let closed = act(&ann, &second, "close").await;
    assert_eq!(closed.status, ConversationStatus::Closed);
    let open = act(&ann, &second, "reopen").await;
    assert_eq!(open.status, ConversationStatus::Open);
    assert_eq!(open.closed_at, None);
}

#[tokio::test]
async fn closing_without_an_answer_then_a_new_message_starts_a_new_wait() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let (id, token) = conversation_with(&app, "spam?").await;
    let waiting = conversation_of(&ann, &id).await.waiting_since;
    act(&ann, &id, "close").await;
    tick().await;
    let again = app.send(&token, "again", "not spam").await;
    let now = conversation_of(&ann, &id).await;
    assert_ne!(now.waiting_since, waiting);
    assert_eq!(now.waiting_since, Some(again.created_at));
}

// ---- assignments, live --------------------------------------------------------

#[tokio::test]
async fn an_assignment_by_one_agent_is_seen_live_by_another() {
    let app = TestApp::spawn().await;
    let (ann, ann_client) = agent(&app, "Ann").await;
    let (bob, bob_client) = agent(&app, "Bob").await;
    let mut bob_events = bob_client.events().await;
    let mut key_events = support::EventStream::new(app.agent_get("/events").await);

    let (id, _) = conversation_with(&app, "Can someone help?").await;
    // A new conversation shows up, with its first message.
    let created = next_conversation_event(&mut bob_events).await;
    assert_eq!(created.id, id);
    assert_eq!(created.last_seq, 1);
    assert_eq!(created.unread, 1);
    assert!(created.assignee.is_none());
    assert_eq!(next_conversation_event(&mut key_events).await.id, id);

    let mine = assign(&ann_client, &id, Some(&ann.id)).await;
    assert_eq!(mine.assignee.as_ref().unwrap().id, ann.id);
    let seen = next_conversation_event(&mut bob_events).await;
    assert_eq!(seen.id, id);
    let assignee = seen.assignee.expect("assigned");
    assert_eq!((assignee.id, assignee.name), (ann.id.clone(), "Ann".into()));
    assert_eq!(
        next_conversation_event(&mut key_events)
            .await
            .assignee
            .map(|a| a.id),
        Some(ann.id.clone())
    );

    assign(&ann_client, &id, Some(&bob.id)).await;
    let seen = next_conversation_event(&mut bob_events).await;
    assert_eq!(seen.assignee.map(|a| a.id), Some(bob.id.clone()));
    assign(&bob_client, &id, None).await;
    let seen = next_conversation_event(&mut bob_events).await;
    assert_eq!(seen.assignee, None);

    // Closing is announced too.
    act(&ann_client, &id, "close").await;
    let seen = next_conversation_event(&mut bob_events).await;
    assert_eq!(seen.status, ConversationStatus::Closed);

    // Only enabled agents can be assigned.
    app.store
        .set_agent_disabled(&bob.id, true, messenger_server::now_ms())
        .await
        .unwrap();
    for agent_id in [bob.id.as_str(), "a_nobody"] {
        let response = ann_client
            .post(
                &format!("/conversations/{id}/assign"),
                json!({ "agent_id": agent_id }),
            )
            .await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
}

// ---- internal notes -----------------------------------------------------------

#[tokio::test]
async fn internal_notes_never_reach_the_customer_but_reach_every_agent() {
    let app = TestApp::spawn().await;
    let (ann, ann_client) = agent(&app, "Ann").await;
    let (_, bob_client) = agent(&app, "Bob").await;
    let mut bob_events = bob_client.events().await;
    let (id, token) = conversation_with(&app, "Where is my order?").await;
    let mut customer_stream = app.stream(&token, None).await;
    assert_eq!(
        customer_stream.next_message().await.unwrap().body,
        "Where is my order?"
    );

    let secret = "Customer is a known fraudster";
    let response = ann_client
        .post(
            &format!("/conversations/{id}/notes"),
            json!({"client_id": "note-1", "body": secret}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let note: Note = response.json().await.unwrap();
    assert!(note.id.starts_with("n_"));
    assert_eq!(note.conversation_id, id);
    assert_eq!(
        (note.agent.id.as_str(), note.agent.name.as_str()),
        (ann.id.as_str(), "Ann")
    );
    assert_eq!(note.body, secret);

    // Sent again: the same note; another body under that client id: 409.
    let again = ann_client
        .post(
            &format!("/conversations/{id}/notes"),
            json!({"client_id": "note-1", "body": secret}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Note>().await.unwrap().id, note.id);
    let conflict = ann_client
        .post(
            &format!("/conversations/{id}/notes"),
            json!({"client_id": "note-1", "body": "something else"}),
        )
        .await;
    assert_error(conflict, StatusCode::CONFLICT, "client_id_conflict").await;

    let answer = reply(&ann_client, &id, "reply-1", "It ships today").await;
    assert_eq!(answer.seq, 2, "the note took no seq");

    // The other agent's stream carries the note.
    let event = bob_events.next_of("note").await.expect("a note event");
    assert_eq!(serde_json::from_str::<Note>(&event.data).unwrap(), note);

    // The customer's live stream: the reply right after their message, and
    // nothing of the note (nor of the inbox's view of the conversation).
    let mut customer_events = Vec::new();
    loop {
        let event = customer_stream
            .next_within(Duration::from_secs(5))
            .await
            .expect("the reply reaches the customer");
        customer_events.push(event.clone());
        if event.event == "message" {
            break;
        }
    }
    let live: Message = serde_json::from_str(&customer_events.last().unwrap().data).unwrap();
    assert_eq!((live.seq, live.body.as_str()), (2, "It ships today"));
    for event in &customer_events {
        // (`conversation`: the status snapshot on connect, the customer's
        // own view of it.)
        assert!(["read", "typing", "message", "conversation"].contains(&event.event.as_str()));
        assert!(!event.data.contains(secret));
    }
    while let Some(event) = customer_stream
        .next_within(Duration::from_millis(300))
        .await
    {
        assert!(!event.data.contains(secret) && event.event != "note");
    }

    // The customer's history and a stream replayed from the start.
    let raw = app.read_raw(&token, "").await.text().await.unwrap();
    assert!(!raw.contains(secret) && !raw.contains(&note.id));
    let page: ConversationPage = serde_json::from_str(&raw).unwrap();
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(page.conversation.last_seq, 2);
    let mut replay = app.stream(&token, Some(0)).await;
    for seq in 1..=2 {
        assert_eq!(replay.next_message().await.unwrap().seq, seq);
    }
    while let Some(event) = replay.next_within(Duration::from_millis(300)).await {
        assert!(!event.data.contains(secret));
    }
    // The customer cannot reach the inbox with their token either.
    let with_token = app
        .client
        .get(app.api(&format!("/inbox/conversations/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(with_token, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // The inbox shows it, and the agent API's message events never carry it.
    let shown = view(&bob_client, &id, "").await;
    assert_eq!(shown.notes, std::slice::from_ref(&note));
    assert_eq!(shown.messages.len(), 2);
    let agent_page = app
        .agent_get(&format!("/conversations/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!agent_page.contains(secret));

    // The reply records who wrote it.
    let db = app.database().await;
    let author: Option<String> = sqlx::query_scalar("SELECT agent_id FROM messages WHERE id = $1")
        .bind(&answer.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(author.as_deref(), Some(ann.id.as_str()));
}

#[tokio::test]
async fn the_view_pages_back_and_each_page_brings_the_notes_of_its_time() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let (id, token) = conversation_with(&app, "one").await;
    tick().await;
    let note = ann
        .post(
            &format!("/conversations/{id}/notes"),
            json!({"client_id": "n1", "body": "between one and two"}),
        )
        .await
        .json::<Note>()
        .await
        .unwrap();
    tick().await;
    app.send(&token, "two", "two").await;
    tick().await;
    app.send(&token, "three", "three").await;

    let latest = view(&ann, &id, "?limit=1").await;
    assert_eq!(latest.messages[0].body, "three");
    assert!(latest.notes.is_empty());
    let cursor = latest.older_cursor.expect("older messages");
    let middle = view(&ann, &id, &format!("?limit=1&before={cursor}")).await;
    assert_eq!(middle.messages[0].body, "two");
    assert!(middle.notes.is_empty());
    let cursor = middle.older_cursor.expect("older messages");
    let first = view(&ann, &id, &format!("?limit=1&before={cursor}")).await;
    assert_eq!(first.messages[0].body, "one");
    assert_eq!(first.older_cursor, None);
    assert_eq!(first.notes, std::slice::from_ref(&note));
    assert_eq!(view(&ann, &id, "").await.notes, [note]);
    assert_eq!(first.conversation.last_seq, 3);
    assert_eq!(first.conversation.unread, 3);

    for path in ["/conversations/c_nobody", "/conversations/c_nobody?limit=1"] {
        assert_error(ann.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    for action in ["close", "reopen", "messages", "notes", "assign", "read"] {
        let body = json!({"client_id": "x", "body": "x", "agent_id": null, "seq": 1});
        let response = ann
            .post(&format!("/conversations/c_nobody/{action}"), body)
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

// ---- search -------------------------------------------------------------------

#[tokio::test]
async fn search_finds_conversations_by_a_word_of_a_message_and_customers_by_email() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let (invoice, _) = conversation_with(&app, "My invoice is wrong").await;
    let (parcel, _) = conversation_with(&app, "Where is my parcel? Ça presse").await;
    app.set_customer(&parcel, "Zoë Example", "zoe@example.com")
        .await;

    for (query, expected) in [
        ("invoice", vec![invoice.as_str()]),
        ("INVOICE", vec![invoice.as_str()]),
        ("invo", vec![invoice.as_str()]),
        ("parcel", vec![parcel.as_str()]),
        ("ca presse", vec![parcel.as_str()]),
        ("zoe@example.com", vec![parcel.as_str()]),
        ("ZOE@EXAMPLE", vec![parcel.as_str()]),
        ("Zoë", vec![parcel.as_str()]),
        ("refund", Vec::<&str>::new()),
    ] {
        let q: String = url_encode(query);
        assert_eq!(ann.list_ids(&format!("?q={q}")).await, expected, "{query}");
    }
    // Words match anywhere in the conversation; search combines with filters.
    assert_eq!(
        ann.list_ids("?q=my&status=closed").await,
        Vec::<String>::new()
    );
    let both = ann.list_ids("?q=my").await;
    assert_eq!(both.len(), 2);
    // FTS syntax and LIKE wildcards are taken literally.
    for odd in ["\"NEAR(", "100%", "_", "*", "a OR b", "-"] {
        let response = ann
            .get(&format!("/conversations?q={}", url_encode(odd)))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{odd}");
    }
    assert!(ann.list_ids("?q=%25").await.is_empty());
    let found = ann.list("?q=zoe%40example.com").await.conversations;
    assert_eq!(found[0].customer.email.as_deref(), Some("zoe@example.com"));
    assert_eq!(found[0].customer.name.as_deref(), Some("Zoë Example"));
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- what a start records -------------------------------------------------------

#[tokio::test]
async fn a_start_records_the_page_the_language_and_the_browser_and_refuses_other_urls() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let response = app
        .start_conversation_raw(
            Some(json!({"page_url": "https://shop.example/cart?step=2", "language": "de-CH"})),
            Some("Mozilla/5.0 (X11; Linux x86_64) Test/1.0"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let started: messenger_wire::StartedConversation = response.json().await.unwrap();
    app.send(&started.token, "m1", "hi").await;
    let shown = view(&ann, &started.conversation.id, "").await;
    assert_eq!(
        shown.customer.page_url.as_deref(),
        Some("https://shop.example/cart?step=2")
    );
    assert_eq!(shown.customer.language.as_deref(), Some("de-CH"));
    assert_eq!(
        shown.customer.user_agent.as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64) Test/1.0")
    );
    assert_eq!(shown.customer.first_seen, started.conversation.created_at);
    assert!(shown.customer.past_conversations.is_empty());
    assert_eq!(shown.customer.email, None);

    // Without a body (and a long User-Agent, which is cut).
    let long_agent = "A".repeat(2_000);
    let bare = app.start_conversation_raw(None, Some(&long_agent)).await;
    assert_eq!(bare.status(), StatusCode::CREATED);
    let bare: messenger_wire::StartedConversation = bare.json().await.unwrap();
    app.send(&bare.token, "m1", "hi").await;
    let customer = view(&ann, &bare.conversation.id, "").await.customer;
    assert_eq!(customer.page_url, None);
    assert_eq!(
        customer.user_agent.map(|ua| ua.len()),
        Some(messenger_wire::MAX_USER_AGENT_CHARS)
    );

    for body in [
        json!({"page_url": "javascript:alert(document.cookie)"}),
        json!({"page_url": "data:text/html,<script>alert(1)</script>"}),
        json!({"page_url": format!("https://shop.example/{}", "a".repeat(3_000))}),
        json!({"language": "en\"><script>"}),
    ] {
        let response = app.start_conversation_raw(Some(body.clone()), None).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
    let malformed = app
        .client
        .post(app.api("/conversations"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(malformed, StatusCode::BAD_REQUEST, "invalid_json").await;
}

// ---- session, CSRF and origin ---------------------------------------------------

/// Every new inbox route, with a body that would be valid.
fn routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    let send = json!({"client_id": "x1", "body": "hello"});
    vec![
        (Method::GET, "/conversations", None),
        (Method::GET, "/conversations/CID", None),
        (
            Method::POST,
            "/conversations/CID/messages",
            Some(send.clone()),
        ),
        (Method::POST, "/conversations/CID/notes", Some(send)),
        (Method::POST, "/conversations/CID/close", None),
        (Method::POST, "/conversations/CID/reopen", None),
        (
            Method::POST,
            "/conversations/CID/assign",
            Some(json!({"agent_id": null})),
        ),
        (
            Method::POST,
            "/conversations/CID/read",
            Some(json!({"seq": 1})),
        ),
    ]
}

#[tokio::test]
async fn every_new_route_needs_a_session_and_changes_need_the_csrf_token_and_our_origin() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let (id, token) = conversation_with(&app, "hello").await;
    for (method, path, body) in routes() {
        let path = path.replace("CID", &id);
        let url = app.api(&format!("/inbox{path}"));
        // No session (a customer token is no session either).
        for bearer in [None, Some(token.as_str())] {
            let mut request = app
                .client
                .request(method.clone(), &url)
                .header("x-csrf-token", &ann.csrf);
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
        // A foreign origin.
        let mut request = app
            .client
            .request(method.clone(), &url)
            .header("cookie", &ann.cookie)
            .header("x-csrf-token", &ann.csrf)
            .header("origin", "https://evil.example");
        if let Some(body) = &body {
            request = request.json(body);
        }
        assert_error(
            request.send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        if method == Method::GET {
            continue;
        }
        // No or a wrong CSRF token.
        for csrf in [None, Some("forged")] {
            let mut request = ann.request(method.clone(), &path);
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            assert_error(response, StatusCode::FORBIDDEN, "csrf_failed").await;
        }
    }
    // Nothing changed.
    let now = conversation_of(&ann, &id).await;
    assert_eq!(
        (now.status, now.last_seq, now.agent_read_seq),
        (ConversationStatus::Open, 1, 0)
    );
    assert!(view(&ann, &id, "").await.notes.is_empty());
}

/// The customer's stream says when an agent closes or reopens their
/// conversation (their own view of it: no inbox fields).
#[tokio::test]
async fn the_customer_stream_tells_of_close_and_reopen() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("admin@example.com").await;
    let inbox = app.login(&admin.email, PASSWORD).await;
    let started = app.start_conversation().await;
    app.send(&started.token, "c1", "Hello").await;
    let mut stream = app.stream(&started.token, None).await;
    let id = &started.conversation.id;
    // On connect, the status as it is.
    let event = stream.next_of("conversation").await.expect("a snapshot");
    let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(data["status"], json!("open"));
    for (action, status) in [("close", "closed"), ("reopen", "open")] {
        let response = inbox
            .post(&format!("/conversations/{id}/{action}"), json!({}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let event = stream
            .next_of("conversation")
            .await
            .expect("a conversation event");
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["id"], json!(id));
        assert_eq!(data["status"], json!(status));
        assert!(data.get("customer").is_none() && data.get("assignee").is_none());
    }
}

#[tokio::test]
async fn search_finds_words_inside_links_and_addresses_on_every_engine() {
    let app = TestApp::spawn().await;
    let (_, ann) = agent(&app, "Ann").await;
    let (order, _) = conversation_with(
        &app,
        "See shop.example/orders/12345 or write to help@shop.example",
    )
    .await;
    conversation_with(&app, "Something else entirely").await;
    for query in ["orders", "12345", "help", "shop.example", "ORDERS/123"] {
        let q: String = url_encode(query);
        assert_eq!(
            ann.list_ids(&format!("?q={q}")).await,
            vec![order.as_str()],
            "{query}"
        );
    }
}
