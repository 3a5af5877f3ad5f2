//! Email follow-up, resume links, unsubscribes and agent notices, against
//! the real server on port 0, a real SMTP server (aiosmtpd, see
//! `tests/smtp/sink.py`) and a manual clock: the tests move time forward
//! instead of waiting for delays and expiry, and run the mail worker's pass
//! themselves (it also runs on its own every second).

#[path = "support/smtp.rs"]
mod smtp;
mod support;

use std::time::Duration;

use messenger_server::clock::Clock;
use messenger_wire::{CreatedSite, CustomerAccount, StartedConversation};
use reqwest::StatusCode;
use serde_json::json;
use smtp::{Mail, SmtpSink};
use support::{PASSWORD, TestApp, assert_error};

const DELAY_SECS: u32 = 300;
const START: i64 = 1_800_000_000_000;
const WAIT: Duration = Duration::from_secs(15);

async fn spawn(sink: &SmtpSink) -> TestApp {
    let smtp = format!("smtp://127.0.0.1:{}", sink.port());
    TestApp::spawn_with(|config| {
        config.clock = Clock::manual(START);
        config.mail.smtp_url = Some(smtp.parse().unwrap());
        config.mail.mail_from = "Acme Support <support@acme.test>".into();
        config.mail.followup_delay_secs = DELAY_SECS;
        config.mail.agent_notify_delay_secs = 60;
        config.mail.resume_link_ttl_secs = 3600;
        config.mail.site_url = Some("https://shop.test/help".into());
    })
    .await
}

/// Runs the mail worker's pass now (it also runs every second).
async fn pass(app: &TestApp) {
    messenger_server::mail::run_once(&app.state).await.unwrap();
}

fn advance(app: &TestApp, secs: u32) {
    app.state.clock.advance(i64::from(secs) * 1000);
}

/// A customer who wrote one message and left this address.
async fn customer_with_email(app: &TestApp, email: &str) -> StartedConversation {
    let started = app.start_conversation().await;
    app.send(&started.token, "c1", "Where is my order #1234?")
        .await;
    let response = app
        .client
        .put(app.api("/customer/email"))
        .bearer_auth(&started.token)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let account: CustomerAccount = response.json().await.unwrap();
    assert_eq!(account.email.as_deref(), Some(email));
    assert!(account.notify_by_email);
    started
}

/// `GET /customer` with this token, which must succeed.
async fn get_account(app: &TestApp, token: &str) -> CustomerAccount {
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

/// When the conversation's follow-up is due, if it is.
async fn followup_due(app: &TestApp, conversation_id: &str) -> Option<i64> {
    let db = app.database().await;
    let due = sqlx::query_scalar("SELECT followup_due_at FROM conversations WHERE id = $1")
        .bind(conversation_id)
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    due
}

async fn reply(app: &TestApp, conversation_id: &str, client_id: &str, body: &str) {
    let response = app.agent_reply(conversation_id, client_id, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// The code of the resume link in a mail (`...#mw-resume=CODE`).
fn resume_code(mail: &Mail) -> String {
    let link = mail
        .links()
        .into_iter()
        .find(|l| l.contains("#mw-resume="))
        .unwrap_or_else(|| panic!("no resume link in:\n{}", mail.text));
    assert!(
        link.starts_with("https://shop.test/help#mw-resume="),
        "the link opens the site's page: {link}"
    );
    link.split_once("#mw-resume=").unwrap().1.to_owned()
}

async fn resume(app: &TestApp, code: &str) -> reqwest::Response {
    app.client
        .post(app.api("/resume"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn three_quick_replies_to_an_absent_customer_make_one_email_after_the_delay() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let started = customer_with_email(&app, "ana@example.com").await;
    let id = &started.conversation.id;
    reply(&app, id, "a1", "Hi Ana, let me check.").await;
    reply(&app, id, "a2", "It left our warehouse today.").await;
    reply(&app, id, "a3", "Tracking: <b>XY123</b> & more").await;

    advance(&app, DELAY_SECS - 1);
    pass(&app).await;
    assert_eq!(
        app.store.pending_mail().await.unwrap(),
        0,
        "not before the delay"
    );
    assert!(sink.messages().is_empty());

    advance(&app, 1);
    pass(&app).await;
    let mails = sink.wait_for_messages(1, WAIT).await;
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["ana@example.com".to_owned()]);
    assert_eq!(mail.subject, "You have 3 new replies");
    assert!(mail.from.contains("support@acme.test"));
    for text in [
        "Hi Ana, let me check.",
        "It left our warehouse today.",
        "Tracking: <b>XY123</b> & more",
    ] {
        assert!(mail.text.contains(text), "{text:?} in:\n{}", mail.text);
    }
    let html = mail.html.as_deref().expect("an HTML part");
    assert!(html.contains("Tracking: &lt;b&gt;XY123&lt;/b&gt; &amp; more"));
    assert!(mail.header("List-Unsubscribe").is_some());

    // Nothing more to tell: later passes send nothing more.
    advance(&app, DELAY_SECS * 3);
    pass(&app).await;
    assert_eq!(app.store.pending_mail().await.unwrap(), 0);
    assert_eq!(sink.messages().len(), 1);
    let due = followup_due(&app, id).await;
    assert_eq!(due, None, "nothing left due after the email");

    // The link opens the whole conversation on a new device, once.
    let code = resume_code(mail);
    let response = resume(&app, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let restored: StartedConversation = response.json().await.unwrap();
    assert_eq!(restored.conversation.id, *id);
    assert_ne!(
        restored.token, started.token,
        "a new token for the new device"
    );
    let history = app.all_messages(&restored.token).await;
    let bodies: Vec<&str> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "Where is my order #1234?",
            "Hi Ana, let me check.",
            "It left our warehouse today.",
            "Tracking: <b>XY123</b> & more"
        ]
    );
    assert_error(
        resume(&app, &code).await,
        StatusCode::GONE,
        "resume_link_used",
    )
    .await;
    assert_error(
        resume(&app, "not-a-code").await,
        StatusCode::NOT_FOUND,
        "resume_link_invalid",
    )
    .await;
    // The old device keeps working too.
    assert_eq!(app.all_messages(&started.token).await.len(), 4);
}

#[tokio::test]
async fn a_customer_who_is_here_or_has_seen_the_reply_gets_no_email() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let started = customer_with_email(&app, "ana@example.com").await;
    let id = &started.conversation.id;

    // Here: a stream is open (a tab of the site). Checked again later.
    let stream = app.stream(&started.token, None).await;
    reply(&app, id, "a1", "Hello!").await;
    advance(&app, DELAY_SECS);
    pass(&app).await;
    assert_eq!(app.store.pending_mail().await.unwrap(), 0);

    // Seen: read up to the reply, then gone. Nothing to email.
    let seq = app.read(&started.token, "").await.conversation.last_seq;
    let response = app
        .client
        .post(app.api("/conversation/read"))
        .bearer_auth(&started.token)
        .json(&json!({ "seq": seq }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(stream);
    advance(&app, DELAY_SECS * 2);
    pass(&app).await;
    assert_eq!(app.store.pending_mail().await.unwrap(), 0);
    assert!(sink.messages().is_empty());
    // Settled: nothing left due, so the worker does not look again.
    let due = followup_due(&app, id).await;
    assert_eq!(due, None);
}

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_goes_out_once_it_is_back() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let started = customer_with_email(&app, "ana@example.com").await;
    sink.stop().await;

    reply(&app, &started.conversation.id, "a1", "Sorry for the wait!").await;
    advance(&app, DELAY_SECS);
    pass(&app).await;
    // Queued, tried and failed: still pending.
    assert_eq!(app.store.pending_mail().await.unwrap(), 1);
    let db = app.database().await;
    let (attempts, error): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM mail_queue")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(attempts >= 1, "tried while down");
    assert!(error.is_some());

    // A restart of our server changes nothing: the queue is in the database.
    let mut app = app
        .restart_with(|config| {
            config.clock = Clock::manual(START + i64::from(DELAY_SECS) * 1000);
            config.mail.smtp_url =
                Some(format!("smtp://127.0.0.1:{}", sink.port()).parse().unwrap());
            config.mail.site_url = Some("https://shop.test/help".into());
        })
        .await;
    sink.start_again().await;
    advance(&app, 600);
    pass(&app).await;
    let mails = sink.wait_for_messages(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("Sorry for the wait!"));
    assert_eq!(app.store.pending_mail().await.unwrap(), 0);
    advance(&app, 3600);
    pass(&app).await;
    assert_eq!(sink.messages().len(), 1, "sent once");
    app.stop().await;
}

#[tokio::test]
async fn resume_links_are_asked_for_with_one_answer_for_any_address_and_expire() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let started = customer_with_email(&app, "ana@example.com").await;

    let ask = |email: &'static str| {
        let client = app.client.clone();
        let url = app.api("/resume-links");
        async move {
            let response = client
                .post(url)
                .json(&json!({ "email": email }))
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let known = ask("ANA@example.com").await;
    let unknown = ask("nobody@example.com").await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(
        known, unknown,
        "the same answer for a known and an unknown address"
    );
    // And in about the same time: the request is only recorded, whatever
    // the address; the worker looks it up later. Medians of 9, interleaved.
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..9 {
        for (i, email) in ["ana@example.com", "nobody@example.com"]
            .into_iter()
            .enumerate()
        {
            let began = std::time::Instant::now();
            ask(email).await;
            times[i].push(began.elapsed());
        }
    }
    let [known_median, unknown_median] = times.map(|mut t| {
        t.sort();
        t[4]
    });
    let gap = known_median.abs_diff(unknown_median);
    assert!(
        gap < Duration::from_millis(25),
        "known {known_median:?} vs unknown {unknown_median:?}"
    );
    // The extra requests above are dropped by the limit below or answered
    // now; start the count of mails from here.
    pass(&app).await;
    let before = sink.wait_for_messages(1, WAIT).await.len();
    assert_error(
        app.client
            .post(app.api("/resume-links"))
            .json(&json!({ "email": "not an address" }))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_email",
    )
    .await;

    let mails = sink.messages();
    assert_eq!(mails.len(), before);
    assert_eq!(
        mails.len(),
        3,
        "only the known address gets mail, 3 an hour at most"
    );
    assert!(
        mails
            .iter()
            .all(|m| m.to[0].eq_ignore_ascii_case("ana@example.com"))
    );
    let code = resume_code(&mails[0]);

    // After expiry the link explains itself.
    advance(&app, 3601);
    assert_error(
        resume(&app, &code).await,
        StatusCode::GONE,
        "resume_link_expired",
    )
    .await;

    // An hour later, three more at most.
    for _ in 0..5 {
        ask("ana@example.com").await;
    }
    pass(&app).await;
    let mails = sink.wait_for_messages(6, WAIT).await;
    advance(&app, 1);
    pass(&app).await;
    assert_eq!(sink.messages().len(), mails.len());
    assert_eq!(mails.len(), 6);
    drop(started);
}

#[tokio::test]
async fn a_resume_link_is_sent_only_for_the_site_it_was_asked_on() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    // Ana wrote to the default site and left her address there.
    customer_with_email(&app, "ana@example.com").await;
    app.create_admin("admin@example.com").await;
    let admin = app.login("admin@example.com", PASSWORD).await;
    let response = admin.post("/sites", json!({ "name": "Other shop" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let other: CreatedSite = response.json().await.unwrap();

    let ask = |site: &str| {
        app.client
            .post(app.api("/resume-links"))
            .header("x-messenger-site", site)
            .json(&json!({ "email": "ana@example.com" }))
            .send()
    };
    // Asked on the other site, where she never wrote: no mail, although
    // the address is known to the server.
    assert_eq!(
        ask(&other.site.key).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    pass(&app).await;
    // Asked on her own site: the one mail.
    assert_eq!(ask("default").await.unwrap().status(), StatusCode::ACCEPTED);
    pass(&app).await;
    let mails = sink.wait_for_messages(1, WAIT).await;
    pass(&app).await;
    assert_eq!(sink.messages().len(), 1, "one mail, for her own site only");
    assert!(mails[0].to[0].eq_ignore_ascii_case("ana@example.com"));
}

#[tokio::test]
async fn the_unsubscribe_link_works_and_ends_follow_ups() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let started = customer_with_email(&app, "ana@example.com").await;
    let id = &started.conversation.id;
    reply(&app, id, "a1", "First answer").await;
    advance(&app, DELAY_SECS);
    pass(&app).await;
    let mails = sink.wait_for_messages(1, WAIT).await;
    let url = mails[0]
        .links()
        .into_iter()
        .find(|l| l.contains("/email/unsubscribe?code="))
        .expect("an unsubscribe link");
    assert_eq!(
        mails[0].header("List-Unsubscribe"),
        Some(format!("<{url}>").as_str())
    );

    // Opening the link changes nothing by itself (mail scanners open links).
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<button"));
    let account = get_account(&app, &started.token).await;
    assert!(account.notify_by_email);

    // One click (RFC 8058) unsubscribes.
    let done = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("unsubscribed"));
    let account = get_account(&app, &started.token).await;
    assert!(!account.notify_by_email);
    assert_eq!(account.email.as_deref(), Some("ana@example.com"));

    reply(&app, id, "a2", "Second answer").await;
    advance(&app, DELAY_SECS * 2);
    pass(&app).await;
    assert_eq!(app.store.pending_mail().await.unwrap(), 0);
    assert_eq!(sink.messages().len(), 1);

    let bad = app
        .client
        .post(format!("{}/email/unsubscribe?code=nope", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn agents_away_from_the_inbox_get_one_email_for_several_customer_messages() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    app.create_admin("admin@acme.test").await;
    let present = app
        .create_agent("here@acme.test", "Here", messenger_wire::Role::Agent)
        .await;
    let inbox = app.login(&present.email, PASSWORD).await;
    let _events = inbox.events().await;

    let first = app.start_conversation().await;
    app.send(&first.token, "c1", "Hello, anyone there?").await;
    app.send(&first.token, "c2", "I need help with billing")
        .await;
    let second = app.start_conversation().await;
    app.send(&second.token, "c1", "Do you ship to Norway?")
        .await;

    advance(&app, 59);
    pass(&app).await;
    assert_eq!(
        app.store.pending_mail().await.unwrap(),
        0,
        "not before the delay"
    );
    advance(&app, 1);
    pass(&app).await;
    let mails = sink.wait_for_messages(1, WAIT).await;
    assert_eq!(mails.len(), 1, "one email, only to the agent who is away");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["admin@acme.test".to_owned()]);
    assert_eq!(mail.subject, "3 new customer messages in 2 conversations");
    for text in [
        "Hello, anyone there?",
        "I need help with billing",
        "Do you ship to Norway?",
    ] {
        assert!(mail.text.contains(text), "{text:?} in:\n{}", mail.text);
    }
    assert!(mail.text.contains("/inbox/"));
    advance(&app, 600);
    pass(&app).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_customer_lists_opens_and_starts_conversations_across_devices() {
    let app = TestApp::spawn().await;
    let first = app.start_conversation().await;
    app.send(&first.token, "c1", "First question").await;
    let admin = app.create_admin("admin@acme.test").await;
    let inbox = app.login(&admin.email, PASSWORD).await;
    let response = inbox
        .post(
            &format!("/conversations/{}/close", first.conversation.id),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // A second conversation of the same customer.
    let response = app
        .client
        .post(app.api("/conversations"))
        .bearer_auth(&first.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let second: StartedConversation = response.json().await.unwrap();
    assert_ne!(second.token, first.token);
    app.send(&second.token, "c1", "Second question").await;

    let account = get_account(&app, &second.token).await;
    let listed: Vec<(&str, messenger_wire::ConversationStatus)> = account
        .conversations
        .iter()
        .map(|c| (c.conversation.id.as_str(), c.conversation.status))
        .collect();
    assert_eq!(
        listed,
        [
            (
                second.conversation.id.as_str(),
                messenger_wire::ConversationStatus::Open
            ),
            (
                first.conversation.id.as_str(),
                messenger_wire::ConversationStatus::Closed
            ),
        ]
    );
    assert_eq!(
        account.conversations[1]
            .last_message
            .as_ref()
            .map(|m| m.body.as_str()),
        Some("First question")
    );

    // A token for the first one; writing in it reopens it.
    let response = app
        .client
        .post(app.api(&format!(
            "/customer/conversations/{}/token",
            first.conversation.id
        )))
        .bearer_auth(&second.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let reopened: StartedConversation = response.json().await.unwrap();
    assert_eq!(reopened.conversation.id, first.conversation.id);
    assert_eq!(
        reopened.conversation.status,
        messenger_wire::ConversationStatus::Closed
    );
    app.send(&reopened.token, "c2", "Back again").await;
    assert_eq!(
        app.read(&reopened.token, "").await.conversation.status,
        messenger_wire::ConversationStatus::Open
    );

    // Someone else's conversation is out of reach, and a bad token starts nothing.
    let stranger = app.start_conversation().await;
    let response = app
        .client
        .post(app.api(&format!(
            "/customer/conversations/{}/token",
            stranger.conversation.id
        )))
        .bearer_auth(&second.token)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .client
        .post(app.api("/conversations"))
        .bearer_auth("mwc_not-a-token")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let account = get_account(&app, &stranger.token).await;
    assert_eq!(account.conversations.len(), 1);
}
