//! Live streams (Server-Sent Events): resume from a sequence number, live
//! delivery, isolation between conversations, refusal of bad credentials.

mod support;

use std::time::Duration;

use messenger_wire::{Author, Conversation, MessageEvent, ReadEvent, TypingEvent};
use reqwest::StatusCode;
use support::{AGENT_KEY, EventStream, TestApp, assert_error};

#[tokio::test]
async fn resuming_from_seq_n_returns_exactly_n_plus_one_onwards_then_live_messages() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for i in 1..=5 {
        app.send(&token, &format!("m{i}"), &format!("message {i}"))
            .await;
    }

    let mut stream = app.stream(&token, Some(2)).await;
    for expected in 3..=5 {
        assert_eq!(stream.next_message().await.unwrap().seq, expected);
    }
    app.send(&token, "m6", "live one").await;
    let live = stream.next_message().await.unwrap();
    assert_eq!((live.seq, live.body.as_str()), (6, "live one"));
}

#[tokio::test]
async fn the_after_parameter_resumes_like_last_event_id_and_the_header_wins() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for i in 1..=4 {
        app.send(&token, &format!("m{i}"), "x").await;
    }
    let by_query = app
        .client
        .get(app.api("/conversation/events?after=3"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        EventStream::new(by_query).next_message().await.unwrap().seq,
        4
    );

    let both = app
        .client
        .get(app.api("/conversation/events?after=0"))
        .bearer_auth(&token)
        .header("last-event-id", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(EventStream::new(both).next_message().await.unwrap().seq, 3);
}

#[tokio::test]
async fn a_stream_from_the_start_replays_the_whole_history_in_order() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    for i in 1..=450 {
        app.send(&token, &format!("m{i}"), "x").await;
    }
    let mut stream = app.stream(&token, None).await;
    for expected in 1..=450 {
        assert_eq!(stream.next_message().await.unwrap().seq, expected);
    }
}

#[tokio::test]
async fn an_agent_reply_reaches_an_open_customer_stream() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    app.send(&started.token, "m1", "Hello?").await;
    let mut stream = app.stream(&started.token, Some(1)).await;

    app.agent_reply(&started.conversation.id, "a1", "Hi! How can I help?")
        .await;
    let reply = stream.next_message().await.unwrap();
    assert_eq!(reply.author, Author::Agent);
    assert_eq!(reply.body, "Hi! How can I help?");
}

#[tokio::test]
async fn messages_sent_concurrently_arrive_once_each_in_strict_sequence_order() {
    let app = TestApp::spawn().await;
    let tokens: Vec<String> = futures::future::join_all((0..4).map(|_| app.start_conversation()))
        .await
        .into_iter()
        .map(|s| s.token)
        .collect();
    let mut streams = Vec::new();
    for token in &tokens {
        streams.push(app.stream(token, Some(0)).await);
    }

    let ids: Vec<(usize, String)> = (0..120).map(|i| (i % 4, format!("c{i}"))).collect();
    let sends = ids
        .iter()
        .map(|(conversation, id)| app.send_raw(&tokens[*conversation], id, "hi"));
    for response in futures::future::join_all(sends).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    for stream in &mut streams {
        let seqs: Vec<i64> = {
            let mut seqs = Vec::new();
            for _ in 0..30 {
                seqs.push(stream.next_message().await.unwrap().seq);
            }
            seqs
        };
        assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
        assert!(
            stream
                .next_within(Duration::from_millis(300))
                .await
                .is_none(),
            "nothing more, nothing twice"
        );
    }
}

#[tokio::test]
async fn a_stream_never_carries_another_conversations_messages() {
    let app = TestApp::spawn().await;
    let a = app.start_conversation().await;
    let b = app.start_conversation().await;
    let mut stream_a = app.stream(&a.token, None).await;

    app.send(&b.token, "b1", "for B only").await;
    app.agent_reply(&b.conversation.id, "r1", "also for B")
        .await;
    app.send(&a.token, "a1", "for A").await;

    let first = stream_a.next_message().await.unwrap();
    assert_eq!(first.body, "for A");
    assert!(
        stream_a
            .next_within(Duration::from_millis(300))
            .await
            .is_none(),
        "B's messages never reach A's stream"
    );
}

#[tokio::test]
async fn a_stream_with_an_invalid_or_missing_token_is_refused() {
    let app = TestApp::spawn().await;
    let unknown = app.open_stream("mwc_not-a-real-token", None).await;
    assert_error(unknown, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let missing = app
        .client
        .get(app.api("/conversation/events"))
        .send()
        .await
        .unwrap();
    assert_error(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_malformed_resume_point_is_a_400() {
    let app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let response = app
        .client
        .get(app.api("/conversation/events"))
        .bearer_auth(&token)
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn the_agent_stream_carries_every_conversations_new_messages() {
    let app = TestApp::spawn().await;
    let a = app.start_conversation().await;
    let b = app.start_conversation().await;
    let response = app
        .client
        .get(app.api("/agent/events"))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = EventStream::new(response);

    app.send(&a.token, "a1", "from A").await;
    app.send(&b.token, "b1", "from B").await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        // (Each first message also brings an `event: conversation`.)
        let event = stream.next_of("message").await.unwrap();
        let event: MessageEvent = serde_json::from_str(&event.data).unwrap();
        seen.push((event.conversation_id, event.message.body));
    }
    assert_eq!(
        seen,
        [
            (a.conversation.id.clone(), "from A".to_owned()),
            (b.conversation.id.clone(), "from B".to_owned())
        ]
    );

    let customer_token = app
        .client
        .get(app.api("/agent/events"))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_error(customer_token, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn shutting_down_ends_open_streams_so_clients_reconnect() {
    let mut app = TestApp::spawn().await;
    let token = app.start_conversation().await.token;
    let mut stream = app.stream(&token, None).await;
    for _ in 0..2 {
        stream
            .next_of("read")
            .await
            .expect("the read snapshot on connect");
    }
    stream
        .next_of("conversation")
        .await
        .expect("the status snapshot on connect");
    // Graceful shutdown would wait forever for an endless stream.
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown completes with a stream open");
    assert!(stream.next_within(Duration::from_secs(5)).await.is_none());
}

async fn agent_stream(app: &TestApp) -> EventStream {
    let response = app
        .client
        .get(app.api("/agent/events"))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    EventStream::new(response)
}

async fn mark_read(app: &TestApp, path: &str, bearer: &str, seq: i64) -> Conversation {
    let response = app
        .client
        .post(app.api(path))
        .bearer_auth(bearer)
        .json(&serde_json::json!({ "seq": seq }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn each_side_sees_how_far_the_other_has_read() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    let id = started.conversation.id.clone();
    app.send(&started.token, "m1", "Hello").await;
    app.agent_reply(&id, "a1", "Hi!").await;
    let mut customer = app.stream(&started.token, Some(2)).await;
    let mut agent = agent_stream(&app).await;

    // The agent reads the customer's message: the customer's stream says so.
    let marked = mark_read(
        &app,
        &format!("/agent/conversations/{id}/read"),
        AGENT_KEY,
        1,
    )
    .await;
    assert_eq!(marked.agent_read_seq, 1);
    let receipts: Vec<ReadEvent> = {
        let mut all = Vec::new();
        while all.len() < 3 {
            let e = customer.next_of("read").await.expect("read events");
            all.push(serde_json::from_str(&e.data).unwrap());
        }
        all
    };
    // Two snapshots on connect (nobody has read anything), then the receipt.
    assert_eq!(
        receipts[2],
        ReadEvent {
            conversation_id: id.clone(),
            reader: Author::Agent,
            seq: 1
        }
    );

    // The customer sees the reply: the agent stream says so.
    mark_read(&app, "/conversation/read", &started.token, 2).await;
    // (The agent stream also carries the agents' own receipts.)
    let read = loop {
        let e = agent.next_of("read").await.expect("the agent hears of it");
        let read: ReadEvent = serde_json::from_str(&e.data).unwrap();
        if read.reader == Author::Customer {
            break read;
        }
    };
    assert_eq!(read.seq, 2);

    // And anyone loading the conversation sees both marks.
    let page = app.read(&started.token, "").await;
    assert_eq!(
        (
            page.conversation.customer_read_seq,
            page.conversation.agent_read_seq
        ),
        (2, 1)
    );
}

#[tokio::test]
async fn read_marks_never_move_back_nor_past_the_last_message() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    for i in 1..=3 {
        app.send(&started.token, &format!("m{i}"), "x").await;
    }
    assert_eq!(
        mark_read(&app, "/conversation/read", &started.token, 99)
            .await
            .customer_read_seq,
        3
    );
    assert_eq!(
        mark_read(&app, "/conversation/read", &started.token, 1)
            .await
            .customer_read_seq,
        3
    );
    let unknown = app
        .client
        .post(app.api("/agent/conversations/c_nope/read"))
        .bearer_auth(AGENT_KEY)
        .json(&serde_json::json!({ "seq": 1 }))
        .send()
        .await
        .unwrap();
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn typing_reaches_the_other_side_and_repeats_are_throttled() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    let id = started.conversation.id.clone();
    let mut agent = agent_stream(&app).await;
    let mut customer = app.stream(&started.token, None).await;

    for _ in 0..3 {
        let response = app
            .client
            .post(app.api("/conversation/typing"))
            .bearer_auth(&started.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let e = agent
        .next_of("typing")
        .await
        .expect("the agent sees typing");
    let typing: TypingEvent = serde_json::from_str(&e.data).unwrap();
    assert_eq!(
        typing,
        TypingEvent {
            conversation_id: id.clone(),
            author: Author::Customer
        }
    );
    let again = agent.next_within(Duration::from_millis(500)).await;
    assert!(
        again.is_none(),
        "three notices in a row make one event: {again:?}"
    );

    let response = app
        .client
        .post(app.api(&format!("/agent/conversations/{id}/typing")))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // (The customer's stream also carries the customer's own notice.)
    let mut authors = Vec::new();
    while !authors.contains(&Author::Agent) {
        let e = customer
            .next_of("typing")
            .await
            .expect("the agent's notice");
        authors.push(serde_json::from_str::<TypingEvent>(&e.data).unwrap().author);
    }
    assert_eq!(authors, [Author::Customer, Author::Agent]);

    let unknown = app
        .client
        .post(app.api("/agent/conversations/c_nope/typing"))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

/// Opens the agent stream; `resume` is sent as `Last-Event-ID`.
async fn agent_stream_from(app: &TestApp, resume: Option<&str>) -> EventStream {
    let mut request = app
        .client
        .get(app.api("/agent/events"))
        .bearer_auth(AGENT_KEY);
    if let Some(id) = resume {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    EventStream::new(response)
}

/// The next message event of an agent stream: its position (the SSE id) and
/// `(conversation id, body)`.
async fn next_agent_message(stream: &mut EventStream) -> (i64, (String, String)) {
    let event = stream.next_of("message").await.expect("a message event");
    let position = event
        .id
        .as_deref()
        .expect("agent message events carry an id")
        .parse()
        .expect("the id is a position");
    let event: MessageEvent = serde_json::from_str(&event.data).unwrap();
    (position, (event.conversation_id, event.message.body))
}

/// `n` message events of an agent stream, then nothing more for a while.
async fn exactly_agent_messages(
    stream: &mut EventStream,
    n: usize,
) -> Vec<(i64, (String, String))> {
    let mut seen = Vec::new();
    for _ in 0..n {
        seen.push(next_agent_message(stream).await);
    }
    let more = loop {
        match stream.next_within(Duration::from_millis(400)).await {
            Some(e) if e.event == "message" => break Some(e),
            Some(_) => continue,
            None => break None,
        }
    };
    assert!(more.is_none(), "nothing more, nothing twice: {more:?}");
    seen
}

#[tokio::test]
async fn an_agent_stream_resumed_from_a_position_gets_exactly_the_later_messages_once_in_order() {
    let app = TestApp::spawn().await;
    let [a, b, c] = [
        app.start_conversation().await,
        app.start_conversation().await,
        app.start_conversation().await,
    ];
    // History before the first stream: a stream without a resume point
    // starts after it.
    app.send(&a.token, "old", "before any stream").await;

    let mut first = agent_stream(&app).await;
    let sent = [(&a, "a1"), (&b, "b1"), (&c, "c1"), (&a, "a2"), (&b, "b2")];
    for (conversation, id) in sent {
        app.send(&conversation.token, id, id).await;
    }
    let seen = exactly_agent_messages(&mut first, 5).await;
    let expected: Vec<(String, String)> = sent
        .iter()
        .map(|(conversation, id)| (conversation.conversation.id.clone(), (*id).to_owned()))
        .collect();
    assert_eq!(
        seen.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
        expected
    );
    let positions: Vec<i64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions,
        (2..=6).collect::<Vec<_>>(),
        "one after the other"
    );
    drop(first);

    // While no stream is open: customers and an agent write.
    app.send(&c.token, "c2", "c2").await;
    app.send(&a.token, "a3", "a3").await;
    let reply = app.agent_reply(&b.conversation.id, "r1", "r1").await;
    assert_eq!(reply.status(), StatusCode::CREATED);

    // Resumed from the second message seen: the three after it, the three
    // posted meanwhile, then live ones.
    let resume_from = positions[1];
    let mut resumed = agent_stream_from(&app, Some(&resume_from.to_string())).await;
    let mut expected: Vec<(String, String)> = expected[2..].to_vec();
    expected.extend([
        (c.conversation.id.clone(), "c2".to_owned()),
        (a.conversation.id.clone(), "a3".to_owned()),
        (b.conversation.id.clone(), "r1".to_owned()),
    ]);
    let mut caught_up = Vec::new();
    for _ in 0..expected.len() {
        caught_up.push(next_agent_message(&mut resumed).await);
    }
    app.send(&b.token, "b3", "b3").await;
    caught_up.extend(exactly_agent_messages(&mut resumed, 1).await);
    expected.push((b.conversation.id.clone(), "b3".to_owned()));
    assert_eq!(
        caught_up.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        caught_up.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        (resume_from + 1..=resume_from + 7).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn resuming_the_agent_stream_from_its_last_id_repeats_nothing() {
    let app = TestApp::spawn().await;
    let a = app.start_conversation().await;
    let b = app.start_conversation().await;
    for i in 1..=3 {
        app.send(&a.token, &format!("a{i}"), "x").await;
        app.send(&b.token, &format!("b{i}"), "x").await;
    }
    // `?after=0`: the whole history of every conversation.
    let response = app
        .client
        .get(app.api("/agent/events?after=0"))
        .bearer_auth(AGENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = EventStream::new(response);
    let seen = exactly_agent_messages(&mut stream, 6).await;
    let last = seen.last().unwrap().0;
    assert_eq!(last, 6);
    drop(stream);

    app.send(&a.token, "a4", "new").await;
    let mut resumed = agent_stream_from(&app, Some(&last.to_string())).await;
    let again = exactly_agent_messages(&mut resumed, 1).await;
    assert_eq!(again, [(7, (a.conversation.id.clone(), "new".to_owned()))]);

    // The header wins over `after`, as on the customer stream.
    let both = app
        .client
        .get(app.api("/agent/events?after=0"))
        .bearer_auth(AGENT_KEY)
        .header("last-event-id", "7")
        .send()
        .await
        .unwrap();
    let mut both = EventStream::new(both);
    assert!(exactly_agent_messages(&mut both, 0).await.is_empty());
}

#[tokio::test]
async fn concurrent_sends_reach_the_agent_stream_once_each_in_position_order() {
    let app = TestApp::spawn().await;
    let tokens: Vec<String> = futures::future::join_all((0..4).map(|_| app.start_conversation()))
        .await
        .into_iter()
        .map(|s| s.token)
        .collect();
    let mut stream = agent_stream(&app).await;
    let ids: Vec<String> = (0..120).map(|i| format!("c{i}")).collect();
    let sends = ids
        .iter()
        .enumerate()
        .map(|(i, id)| app.send_raw(&tokens[i % 4], id, "hi"));
    for response in futures::future::join_all(sends).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let positions: Vec<i64> = exactly_agent_messages(&mut stream, 120)
        .await
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(positions, (1..=120).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_agent_stream_that_lags_behind_the_feed_catches_up_from_the_database() {
    // A feed of 4 events: a group commit of more sends outruns any stream.
    let app = TestApp::spawn_with_feed_capacity(4).await;
    let tokens: Vec<String> = futures::future::join_all((0..4).map(|_| app.start_conversation()))
        .await
        .into_iter()
        .map(|s| s.token)
        .collect();
    let mut live = agent_stream(&app).await;
    let mut from_start = agent_stream_from(&app, Some("0")).await;
    let ids: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
    let sends = ids
        .iter()
        .enumerate()
        .map(|(i, id)| app.send_raw(&tokens[i % 4], id, "hi"));
    for response in futures::future::join_all(sends).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for stream in [&mut live, &mut from_start] {
        let positions: Vec<i64> = exactly_agent_messages(stream, 200)
            .await
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(positions, (1..=200).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_bad_resume_point_on_the_agent_stream_is_a_400() {
    let app = TestApp::spawn().await;
    for (query, last_event_id) in [
        ("", Some("yesterday")),
        ("", Some("-3")),
        ("?after=-1", None),
        ("?after=soon", None),
    ] {
        let mut request = app
            .client
            .get(app.api(&format!("/agent/events{query}")))
            .bearer_auth(AGENT_KEY);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

#[tokio::test]
async fn message_positions_survive_a_restart_and_keep_growing() {
    let app = TestApp::spawn().await;
    let a = app.start_conversation().await;
    let b = app.start_conversation().await;
    app.send(&a.token, "a1", "a1").await;
    app.send(&b.token, "b1", "b1").await;
    app.send(&a.token, "a2", "a2").await;
    let mut stream = agent_stream_from(&app, Some("0")).await;
    let before: Vec<i64> = exactly_agent_messages(&mut stream, 3)
        .await
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(before, [1, 2, 3]);
    drop(stream);

    let app = app.restart().await;
    app.send(&b.token, "b2", "b2").await;
    app.send(&a.token, "a3", "a3").await;
    let mut resumed = agent_stream_from(&app, Some("3")).await;
    assert_eq!(
        exactly_agent_messages(&mut resumed, 2).await,
        [
            (4, (b.conversation.id.clone(), "b2".to_owned())),
            (5, (a.conversation.id.clone(), "a3".to_owned())),
        ]
    );
    let mut everything = agent_stream_from(&app, Some("0")).await;
    let all: Vec<(i64, String)> = exactly_agent_messages(&mut everything, 5)
        .await
        .into_iter()
        .map(|(p, (_, body))| (p, body))
        .collect();
    assert_eq!(
        all,
        [
            (1, "a1".to_owned()),
            (2, "b1".to_owned()),
            (3, "a2".to_owned()),
            (4, "b2".to_owned()),
            (5, "a3".to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_agent_stream_opened_live_gives_its_start_so_a_reconnect_loses_nothing() {
    let app = TestApp::spawn().await;
    let a = app.start_conversation().await;
    app.send(&a.token, "a1", "old").await;
    app.send(&a.token, "a2", "old").await;

    // Live from now: nothing of the history, but the position it starts
    // after, as a bare id.
    let mut live = agent_stream(&app).await;
    assert!(
        live.next_within(Duration::from_millis(400)).await.is_none(),
        "no history on a live stream"
    );
    assert_eq!(live.last_id.as_deref(), Some("2"));
    let resume = live.last_id.clone().unwrap();
    drop(live);

    // Disconnected before any message came: the reconnect still resumes.
    app.send(&a.token, "a3", "while away").await;
    let mut resumed = agent_stream_from(&app, Some(&resume)).await;
    assert_eq!(
        exactly_agent_messages(&mut resumed, 1).await,
        [(3, (a.conversation.id.clone(), "while away".to_owned()))]
    );
}
