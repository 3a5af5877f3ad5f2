//! Business hours against the real server on port 0: admins set them (and
//! only admins, with a session and the CSRF token; bad settings are 422), the
//! widget's public status says open or away and when we open again, and a
//! customer who writes while we are away gets one automatic away reply per
//! away period, which does not count as our answer.
//!
//! The tests do not depend on today's date: the hours are open all week
//! (every day, all day), or open on one day only, three days from today in
//! the site's zone, so that now is always closed and the next opening is
//! known.

mod support;

use chrono::{Datelike, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use messenger_wire::{Author, MessageEvent, Role, SiteHours, WeekHours, WidgetStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{InboxClient, PASSWORD, TestApp, assert_error};

/// A zone with DST, so the next opening's offset depends on the date.
const ZONE: &str = "America/New_York";

fn open_all_week() -> Value {
    let day = json!([[0, 1440]]);
    json!({
        "time_zone": ZONE,
        "hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day},
        "expected_reply_minutes": 30,
        "greeting": "Hi! Ask us anything.",
    })
}

/// Open 9:00-17:00 on the weekday three days from today (in [`ZONE`]) and
/// no other, and the instant that day opens.
fn closed_now() -> (Value, i64) {
    let zone: Tz = ZONE.parse().unwrap();
    let now = Utc
        .timestamp_millis_opt(messenger_server::now_ms())
        .unwrap();
    let day = now.with_timezone(&zone).date_naive() + Duration::days(3);
    let name = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [day.weekday().num_days_from_monday() as usize];
    let opens = zone
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis();
    (
        json!({"time_zone": ZONE, "hours": {name: [[540, 1020]]}}),
        opens,
    )
}

async fn admin(app: &TestApp) -> InboxClient {
    app.create_admin("admin@example.com").await;
    app.login("admin@example.com", PASSWORD).await
}

async fn put_hours(client: &InboxClient, settings: Value) -> reqwest::Response {
    client
        .send(Method::PUT, "/settings/hours", Some(settings))
        .await
}

async fn set_hours(client: &InboxClient, settings: Value) -> SiteHours {
    let response = put_hours(client, settings).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn status(app: &TestApp) -> (WidgetStatus, String) {
    let response = app
        .client
        .get(app.api("/widget/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response
        .headers()
        .get("cache-control")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (response.json().await.unwrap(), cache)
}

#[tokio::test]
async fn only_admins_read_and_change_the_hours() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    app.create_agent("ann@example.com", "Ann", Role::Agent)
        .await;
    let ann = app.login("ann@example.com", PASSWORD).await;

    // No session: 401, whatever the method.
    let response = app
        .client
        .get(app.api("/inbox/settings/hours"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = app
        .client
        .put(app.api("/inbox/settings/hours"))
        .json(&open_all_week())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // An agent who is not an admin: 403.
    assert_error(
        ann.get("/settings/hours").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        put_hours(&ann, open_all_week()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // An admin without the CSRF token: 403.
    let response = admin
        .request(Method::PUT, "/settings/hours")
        .json(&open_all_week())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "csrf_failed").await;

    // Nothing set yet: UTC, no hours (always open).
    let response = admin.get("/settings/hours").await;
    assert_eq!(response.status(), StatusCode::OK);
    let current: SiteHours = response.json().await.unwrap();
    assert_eq!(current, SiteHours::default());

    let set = set_hours(&admin, open_all_week()).await;
    assert_eq!(set.time_zone, ZONE);
    assert_eq!(set.hours.sun, vec![[0, 1440]]);
    assert_eq!(set.expected_reply_minutes, Some(30));
    let response = admin.get("/settings/hours").await;
    assert_eq!(response.json::<SiteHours>().await.unwrap(), set);

    // They are stored: a restart keeps them.
    let app = app.restart().await;
    let admin = app.login("admin@example.com", PASSWORD).await;
    let response = admin.get("/settings/hours").await;
    assert_eq!(response.json::<SiteHours>().await.unwrap(), set);
}

#[tokio::test]
async fn bad_settings_are_refused_with_what_is_wrong() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let cases = [
        (json!({"time_zone": "Mars/Olympus_Mons"}), "time zone"),
        (
            json!({"time_zone": "UTC", "hours": {"mon": [[600, 540]]}}),
            "mon",
        ),
        (
            json!({"time_zone": "UTC", "hours": {"tue": [[0, 1500]]}}),
            "tue",
        ),
        (
            json!({"time_zone": "UTC", "hours": {"wed": [[540, 720], [700, 1020]]}}),
            "overlaps",
        ),
        (
            json!({"time_zone": "UTC", "holidays": ["2026-02-30"]}),
            "holiday",
        ),
        (json!({"time_zone": "UTC", "greeting": "  "}), "greeting"),
    ];
    for (settings, says) in cases {
        let message = assert_error(
            put_hours(&admin, settings.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        )
        .await;
        assert!(message.contains(says), "{settings}: {message}");
    }
    // Nothing was stored.
    let response = admin.get("/settings/hours").await;
    assert_eq!(
        response.json::<SiteHours>().await.unwrap(),
        SiteHours::default()
    );
}

#[tokio::test]
async fn the_widget_status_says_open_or_away_and_when_we_open() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;

    // No hours: open, nothing else to say; public and cacheable for 60 s.
    let (open, cache) = status(&app).await;
    assert!(open.open);
    assert_eq!(open.next_open_at, None);
    assert_eq!(open.away_message, None);
    assert_eq!(cache, "public, max-age=60");

    set_hours(&admin, open_all_week()).await;
    let (open, _) = status(&app).await;
    assert_eq!(
        open,
        WidgetStatus {
            open: true,
            greeting: Some("Hi! Ask us anything.".into()),
            expected_reply_minutes: Some(30),
            next_open_at: None,
            away_message: None,
        }
    );

    let (closed, opens) = closed_now();
    set_hours(&admin, closed).await;
    let (away, _) = status(&app).await;
    assert!(!away.open);
    // (Unless local midnight passed in between: then the day is one closer.)
    let (_, opens_now) = closed_now();
    assert!(
        away.next_open_at == Some(opens) || away.next_open_at == Some(opens_now),
        "{away:?}, expected {opens}"
    );
    let text = away.away_message.unwrap();
    assert!(text.contains("We're away"), "{text}");
    assert!(text.contains("09:00 (America/New_York)"), "{text}");
}

#[tokio::test]
async fn a_customer_writing_while_away_gets_one_away_reply_and_still_waits() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let mut settings = closed_now().0;
    settings["away_message"] = json!("We're out; back {time}.");
    set_hours(&admin, settings).await;
    let mut events = admin.events().await;

    let started = app.start_conversation().await;
    let id = started.conversation.id.clone();
    let mut customer = app.stream(&started.token, Some(0)).await;
    let first = app.send(&started.token, "one", "Hello?").await;
    let second = app.send(&started.token, "two", "Anyone there?").await;
    assert_eq!(first.seq, 1);
    assert_eq!(second.seq, 3, "the away reply took seq 2");

    let messages = app.all_messages(&started.token).await;
    let authors: Vec<Author> = messages.iter().map(|m| m.author).collect();
    assert_eq!(authors, [Author::Customer, Author::Bot, Author::Customer]);
    let away = &messages[1];
    assert!(away.body.starts_with("We're out; back "), "{}", away.body);
    assert!(
        away.body.contains("09:00 (America/New_York)"),
        "{}",
        away.body
    );
    assert_eq!(away.client_id, None);

    // The inbox sees it live, like any message.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = events.next_of("message").await.expect("a message event");
        let event: MessageEvent = serde_json::from_str(&event.data).unwrap();
        assert_eq!(event.conversation_id, id);
        seen.push((event.message.seq, event.message.author));
    }
    assert_eq!(
        seen,
        [
            (1, Author::Customer),
            (2, Author::Bot),
            (3, Author::Customer)
        ]
    );
    // And so does the customer.
    for seq in 1..=3 {
        let message = customer.next_message().await.expect("a message");
        assert_eq!(message.seq, seq);
    }

    // Still waiting on us, since the first customer message.
    let waiting = admin.list("?status=open&waiting=us").await.conversations;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].id, id);
    assert_eq!(waiting[0].waiting_since, Some(first.created_at));

    // An agent's answer ends the wait; the customer writing again in the
    // same away period gets no second away reply.
    let response = admin
        .post(
            &format!("/conversations/{id}/messages"),
            json!({"client_id": "r1", "body": "Here!"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(admin.list("?waiting=us").await.conversations.is_empty());
    let third = app.send(&started.token, "three", "Thanks").await;
    assert_eq!(third.seq, 5);
    let bots = app
        .all_messages(&started.token)
        .await
        .iter()
        .filter(|m| m.author == Author::Bot)
        .count();
    assert_eq!(bots, 1);

    // Another conversation gets its own away reply.
    let other = app.start_conversation().await;
    app.send(&other.token, "one", "Hi").await;
    let messages = app.all_messages(&other.token).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].author, Author::Bot);
}

#[tokio::test]
async fn no_away_reply_while_open_or_without_hours() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;

    let started = app.start_conversation().await;
    app.send(&started.token, "one", "Hello").await;
    app.send(&started.token, "two", "Hello again").await;

    set_hours(&admin, open_all_week()).await;
    app.send(&started.token, "three", "Still there?").await;
    let messages = app.all_messages(&started.token).await;
    assert_eq!(messages.len(), 3);
    assert!(messages.iter().all(|m| m.author == Author::Customer));

    // Back to no hours at all (an empty week): always open.
    let none = SiteHours {
        hours: WeekHours::default(),
        ..SiteHours::default()
    };
    set_hours(&admin, serde_json::to_value(&none).unwrap()).await;
    app.send(&started.token, "four", "Hm").await;
    assert_eq!(app.all_messages(&started.token).await.len(), 4);
}

/// With the server's clock in the test's hands: one away reply per away
/// period, across a weekend, a working day and the evening after it.
#[tokio::test]
async fn one_away_reply_per_away_period_as_the_clock_moves() {
    let zone: Tz = ZONE.parse().unwrap();
    let at = |day: u32, hour: u32| {
        zone.with_ymd_and_hms(2027, 1, day, hour, 0, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    };
    // Saturday 9 January 2027, 10:00 in New York.
    let clock = messenger_server::clock::Clock::manual(at(9, 10));
    let app = TestApp::spawn_with(|config| config.clock = clock.clone()).await;
    let admin = admin(&app).await;
    let weekday = json!([[540, 1020]]);
    set_hours(
        &admin,
        json!({
            "time_zone": ZONE,
            "hours": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
            "expected_reply_minutes": 60,
        }),
    )
    .await;
    let (away, _) = status(&app).await;
    assert!(!away.open);
    // Monday 09:00 in New York is 14:00 UTC; the widget shows it in the
    // customer's own zone.
    assert_eq!(away.next_open_at, Some(at(11, 9)));
    assert_eq!(
        Utc.timestamp_millis_opt(at(11, 9)).unwrap().to_rfc3339(),
        "2027-01-11T14:00:00+00:00"
    );

    let started = app.start_conversation().await;
    let token = &started.token;
    let bots = |messages: &[messenger_wire::Message]| {
        messages.iter().filter(|m| m.author == Author::Bot).count()
    };
    app.send(token, "c1", "Hello?").await;
    app.send(token, "c2", "Anyone?").await;
    clock.set(at(10, 20)); // Sunday evening: the same away period
    app.send(token, "c3", "Still there?").await;
    assert_eq!(bots(&app.all_messages(token).await), 1);

    clock.set(at(11, 10)); // Monday 10:00: open
    assert!(status(&app).await.0.open);
    app.send(token, "c4", "Good morning").await;
    assert_eq!(bots(&app.all_messages(token).await), 1);

    clock.set(at(11, 18)); // Monday 18:00: a new away period
    app.send(token, "c5", "One more thing").await;
    app.send(token, "c6", "And another").await;
    let messages = app.all_messages(token).await;
    assert_eq!(bots(&messages), 2);
    let authors: Vec<Author> = messages.iter().map(|m| m.author).collect();
    use Author::{Bot, Customer};
    assert_eq!(
        authors,
        [
            Customer, Bot, Customer, Customer, Customer, Customer, Bot, Customer
        ]
    );
}
