//! Many sites on one server, against the real server on port 0: each site's
//! allowed origins (for the API, including clients that forge `Origin`, and
//! for embedding the frame), tokens bound to their site, the widget's
//! public configuration (language, texts, colors), the admins' site routes,
//! and hours, greeting and away reply per site.

mod support;

use messenger_wire::{
    CreatedSite, InboxConversationList, SiteAdmin, SiteList, SiteSecret, StartedConversation,
    WidgetConfig, WidgetStatus,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{InboxClient, TestApp, assert_error};

const A: &str = "https://a.example";
const B: &str = "https://b.example";
const EVIL: &str = "https://evil.example";

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A server whose default site admits only `A` (`--allowed-origins`), with
/// a second site admitting only `B`, and a signed-in admin.
async fn two_sites() -> (TestApp, InboxClient, CreatedSite) {
    let app = TestApp::spawn_with(|c| c.allowed_origins = vec![A.parse().unwrap()]).await;
    app.create_admin("admin@example.com").await;
    let admin = app.login("admin@example.com", support::PASSWORD).await;
    let created = create_site(&admin, json!({"name": "Bee shop", "allowed_origins": [B]})).await;
    (app, admin, created)
}

async fn create_site(admin: &InboxClient, settings: Value) -> CreatedSite {
    let response = admin.post("/sites", settings).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// How a request names its site and origin.
#[derive(Clone, Copy)]
enum Via<'a> {
    /// As the frame sends it: our own `Origin` (or none) and the host
    /// page's origin in `X-Messenger-Origin`.
    Frame(&'a str, &'a str),
    /// A client that sets `Origin` itself (a page calling us directly, or a
    /// forgery), with the site header.
    Origin(&'a str, &'a str),
    /// Only the site header: no origin at all.
    Nowhere(&'a str),
}

fn customer(app: &TestApp, method: Method, path: &str, from: Via<'_>) -> reqwest::RequestBuilder {
    let request = app.client.request(method, app.api(path));
    match from {
        Via::Frame(key, host) => request
            .header("x-messenger-site", key)
            .header("origin", &app.url)
            .header("x-messenger-origin", host),
        Via::Origin(key, origin) => request
            .header("x-messenger-site", key)
            .header("origin", origin),
        Via::Nowhere(key) => request.header("x-messenger-site", key),
    }
}

async fn start(app: &TestApp, from: Via<'_>) -> reqwest::Response {
    customer(app, Method::POST, "/conversations", from)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

async fn started(app: &TestApp, from: Via<'_>) -> StartedConversation {
    let response = start(app, from).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn send(app: &TestApp, token: &str, body: &str, from: Via<'_>) -> reqwest::Response {
    customer(app, Method::POST, "/conversation/messages", from)
        .bearer_auth(token)
        .json(&json!({"client_id": format!("c-{}", body.len()), "body": body}))
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let db = app.database().await;
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&db)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_site_admits_only_its_own_origins_and_a_refusal_stores_nothing() {
    let (app, _admin, created) = two_sites().await;
    let b = created.site.key.as_str();
    assert!(b.starts_with("mws_") && b.len() == 28, "{b}");

    // Listed origins work, from the frame and from a page calling directly.
    let on_a = started(&app, Via::Frame("default", A)).await;
    started(&app, Via::Origin("default", A)).await;
    let on_b = started(&app, Via::Frame(b, B)).await;
    // No site header: the default site.
    let response = app
        .client
        .post(app.api("/conversations"))
        .header("x-messenger-origin", A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let conversations = count(&app, "conversations").await;
    let customers = count(&app, "customers").await;

    // Another site's origin, a forged Origin (a non-browser client), a
    // forged Origin that also claims a listed host page, and no origin at all.
    for from in [
        Via::Frame(b, A),
        Via::Frame("default", B),
        Via::Origin(b, EVIL),
        Via::Origin("default", EVIL),
        Via::Nowhere(b),
        Via::Nowhere("default"),
    ] {
        assert_error(
            start(&app, from).await,
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
        )
        .await;
    }
    let forged = customer(&app, Method::POST, "/conversations", Via::Origin(b, EVIL))
        .header("x-messenger-origin", B)
        .send()
        .await
        .unwrap();
    assert_error(forged, StatusCode::FORBIDDEN, "origin_not_allowed").await;
    assert_eq!(count(&app, "conversations").await, conversations);
    assert_eq!(count(&app, "customers").await, customers);

    // A valid token does not help from a foreign origin: nothing is stored.
    for (token, key) in [(&on_a.token, "default"), (&on_b.token, b)] {
        let response = send(&app, token, "hello from evil", Via::Origin(key, EVIL)).await;
        assert_error(response, StatusCode::FORBIDDEN, "origin_not_allowed").await;
        let read = customer(&app, Method::GET, "/conversation", Via::Origin(key, EVIL))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_error(read, StatusCode::FORBIDDEN, "origin_not_allowed").await;
    }
    assert_eq!(count(&app, "messages").await, 0);

    // From its own origin the same token sends.
    let response = send(&app, &on_b.token, "hello from b", Via::Frame(b, B)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(&app, &on_a.token, "hello from a", Via::Origin("default", A)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(count(&app, "messages").await, 2);

    // Every customer route applies the rule.
    for (method, path) in [
        (Method::GET, "/conversation/events"),
        (Method::POST, "/conversation/read"),
        (Method::POST, "/conversation/typing"),
        (Method::GET, "/widget/status"),
        (Method::GET, "/customer"),
        (Method::PUT, "/customer/email"),
        (Method::POST, "/customer/conversations/x/token"),
        (Method::POST, "/resume-links"),
        (Method::POST, "/resume"),
    ] {
        let response = customer(&app, method.clone(), path, Via::Frame(b, EVIL))
            .bearer_auth(&on_b.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "origin_not_allowed").await;
    }
}

#[tokio::test]
async fn a_token_works_only_on_its_own_site() {
    let (app, admin, created) = two_sites().await;
    let b = created.site.key.as_str();
    let on_a = started(&app, Via::Frame("default", A)).await;
    let on_b = started(&app, Via::Frame(b, B)).await;

    // Site A's token on site B (from B's origin), and the other way round.
    for (token, from) in [
        (&on_a.token, Via::Frame(b, B)),
        (&on_b.token, Via::Frame("default", A)),
    ] {
        let response = send(&app, token, "hi", from).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let account = customer(&app, Method::GET, "/customer", from)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_error(account, StatusCode::UNAUTHORIZED, "unauthorized").await;
        // Nor as the parent of a new conversation on the other site.
        let response = customer(&app, Method::POST, "/conversations", from)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(count(&app, "messages").await, 0);

    // A key no site has.
    let response = start(&app, Via::Frame("mws_000000000000000000000000", B)).await;
    assert_error(response, StatusCode::NOT_FOUND, "site_not_found").await;

    // The new customer belongs to its site, and the inbox says which.
    let response = send(&app, &on_b.token, "hello", Via::Frame(b, B)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(&app, &on_a.token, "hello", Via::Frame("default", A)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let list: InboxConversationList = admin.list("").await;
    let site_of = |id: &str| {
        let c = list.conversations.iter().find(|c| c.id == id).unwrap();
        (c.site.id.clone(), c.site.name.clone())
    };
    assert_eq!(
        site_of(&on_b.conversation.id),
        (created.site.id.clone(), "Bee shop".to_owned())
    );
    assert_eq!(site_of(&on_a.conversation.id).0, "default");
}

#[tokio::test]
async fn the_frame_may_be_embedded_only_by_its_sites_origins() {
    let (app, admin, created) = two_sites().await;
    let open = create_site(&admin, json!({"name": "Anywhere"})).await;
    let (status, b) = csp(&app, format!("?site={}", created.site.key)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(b.ends_with(&format!("frame-ancestors {B}")), "{b}");
    let (_, default) = csp(&app, String::new()).await;
    assert!(
        default.ends_with(&format!("frame-ancestors {A}")),
        "{default}"
    );
    let (_, by_key) = csp(&app, "?site=default".to_owned()).await;
    assert_eq!(by_key, default);
    let (_, index) = csp(&app, format!("index.html?site={}", created.site.key)).await;
    assert_eq!(index, b);
    let (_, any) = csp(&app, format!("?site={}", open.site.key)).await;
    assert!(any.ends_with("frame-ancestors *"), "{any}");
    let (status, _) = csp(&app, "?site=mws_ffffffffffffffffffffffff".to_owned()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn csp(app: &TestApp, query: String) -> (StatusCode, String) {
    let response = app
        .client
        .get(format!("{}/frame/{query}", app.url))
        .send()
        .await
        .unwrap();
    (
        response.status(),
        header(&response, "content-security-policy").to_owned(),
    )
}

async fn widget_status(app: &TestApp, from: Via<'_>) -> WidgetStatus {
    let response = customer(app, Method::GET, "/widget/status", from)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn messages(
    app: &TestApp,
    token: &str,
    from: Via<'_>,
) -> Vec<(messenger_wire::Author, String)> {
    let response = customer(app, Method::GET, "/conversation", from)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page: messenger_wire::ConversationPage = response.json().await.unwrap();
    page.messages
        .into_iter()
        .map(|m| (m.author, m.body))
        .collect()
}

async fn widget(app: &TestApp, key: &str, lang: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(app.api(&format!("/sites/{key}/widget?lang={lang}")))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

async fn config(app: &TestApp, key: &str, lang: &str, origin: &str) -> WidgetConfig {
    let response = widget(app, key, lang, origin).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_widget_configuration_speaks_the_customers_language_with_the_sites_words() {
    let (app, admin, created) = two_sites().await;
    let key = created.site.key.clone();
    let response = admin
        .send(
            Method::PUT,
            &format!("/sites/{}", created.site.id),
            Some(json!({
                "name": "Bee shop",
                "allowed_origins": [B],
                "color": "#FDE047",
                "position": "left",
                "offset_x": 32,
                "offset_y": 48,
                "z_index": 1000,
                "greeting": "  Hallo!  ",
                "default_language": "fr",
                "texts": {
                    "*": {"panel.title": "Bee"},
                    "de": {"panel.title": "Biene", "launcher.open": "Bienen-Chat"}
                }
            })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let site: SiteAdmin = response.json().await.unwrap();
    assert_eq!(site.settings.color, "#fde047");
    assert_eq!(site.settings.greeting.as_deref(), Some("Hallo!"));

    let response = widget(&app, &key, "de-DE,de,en", B).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), "public, max-age=60");
    assert!(
        header(&response, "vary")
            .to_ascii_lowercase()
            .contains("origin")
    );
    assert_eq!(header(&response, "access-control-allow-origin"), "*");
    let de: WidgetConfig = response.json().await.unwrap();
    assert_eq!(de.site, key);
    assert_eq!((de.language.as_str(), de.dir.as_str()), ("de", "ltr"));
    assert_eq!(de.texts["panel.title"], "Biene");
    assert_eq!(de.texts["launcher.open"], "Bienen-Chat");
    assert_eq!(de.texts["launcher.close"], "Nachrichten schließen");
    // A light brand color gets dark text.
    assert_eq!(
        (de.color.as_str(), de.text_color.as_str()),
        ("#fde047", "#111827")
    );
    assert_eq!(de.position, messenger_wire::LauncherPosition::Left);
    assert_eq!((de.offset_x, de.offset_y, de.z_index), (32, 48, 1000));
    assert_eq!(de.greeting.as_deref(), Some("Hallo!"));

    let ar = config(&app, &key, "ar", B).await;
    assert_eq!((ar.language.as_str(), ar.dir.as_str()), ("ar", "rtl"));
    // "*" applies to every language; the others keep the catalog's texts.
    assert_eq!(ar.texts["panel.title"], "Bee");
    let english = config(&app, "default", "en", A).await;
    assert_eq!(ar.texts.len(), english.texts.len());
    assert_ne!(ar.texts["launcher.open"], english.texts["launcher.open"]);

    // Unsupported languages: the site's default language.
    let fallback = config(&app, &key, "pt-BR,ja", B).await;
    assert_eq!(fallback.language, "fr");
    let none = config(&app, &key, "", B).await;
    assert_eq!(none.language, "fr");
    // The default site: English, the default blue with white text.
    assert_eq!(english.language, "en");
    assert_eq!(english.text_color, "#ffffff");
    assert!(!english.texts.is_empty());

    // A preflight (should a page send one) is answered for any origin,
    // without credentials.
    let preflight = app
        .client
        .request(Method::OPTIONS, app.api(&format!("/sites/{key}/widget")))
        .header("origin", B)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(header(&preflight, "access-control-allow-origin"), "*");
    assert_eq!(header(&preflight, "access-control-allow-credentials"), "");

    // Other origins are refused, unknown keys are not found.
    assert_error(
        widget(&app, &key, "en", A).await,
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
    )
    .await;
    assert_error(
        widget(&app, "mws_000000000000000000000000", "en", B).await,
        StatusCode::NOT_FOUND,
        "site_not_found",
    )
    .await;
}

#[tokio::test]
async fn only_admins_create_change_and_rotate_sites_and_bad_settings_name_the_field() {
    let (app, admin, created) = two_sites().await;
    app.create_agent("ann@example.com", "Ann", messenger_wire::Role::Agent)
        .await;
    let ann = app.login("ann@example.com", support::PASSWORD).await;
    let path = format!("/sites/{}", created.site.id);

    // Every agent lists the sites; no secret is ever listed.
    let response = ann.get("/sites").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&created.secret));
    let list: SiteList = serde_json::from_str(&text).unwrap();
    let ids: Vec<_> = list.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["default", created.site.id.as_str()]);
    assert_eq!(list.sites[0].settings.allowed_origins, [A]);
    assert!(list.sites[1].has_secret && !list.sites[0].has_secret);

    // Agents may not create, change or rotate.
    let settings = json!({"name": "Nope"});
    assert_error(
        ann.post("/sites", settings.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        ann.send(Method::PUT, &path, Some(settings.clone())).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        ann.post(&format!("{path}/secret"), json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Nor may an admin without the CSRF token.
    let response = admin
        .request(Method::POST, "/sites")
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "csrf_failed").await;
    assert_eq!(count(&app, "sites").await, 2);

    // Bad settings: 400 invalid_site, the message names the field.
    for (field, bad) in [
        ("name", json!({"name": " "})),
        (
            "allowed_origins",
            json!({"name": "X", "allowed_origins": ["https://x.example/path"]}),
        ),
        (
            "allowed_origins",
            json!({"name": "X", "allowed_origins": ["*"]}),
        ),
        ("color", json!({"name": "X", "color": "blue"})),
        ("offset_x", json!({"name": "X", "offset_x": 100000})),
        ("z_index", json!({"name": "X", "z_index": -5})),
        (
            "default_language",
            json!({"name": "X", "default_language": "pt"}),
        ),
        (
            "texts",
            json!({"name": "X", "texts": {"pt": {"panel.title": "Olá"}}}),
        ),
    ] {
        let message = assert_error(
            admin.send(Method::PUT, &path, Some(bad.clone())).await,
            StatusCode::BAD_REQUEST,
            "invalid_site",
        )
        .await;
        assert!(message.starts_with(field), "{field}: {message}");
        assert_error(
            admin.post("/sites", bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_site",
        )
        .await;
    }
    assert_eq!(count(&app, "sites").await, 2);
    let response = admin
        .send(Method::PUT, "/sites/s_nope", Some(json!({"name": "X"})))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;

    // Rotating shows a new secret once; the old one stops being the site's.
    let old = app.store.site_secret(&created.site.id).await.unwrap();
    assert_eq!(old.as_deref(), Some(created.secret.as_str()));
    let response = admin.post(&format!("{path}/secret"), json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rotated: SiteSecret = response.json().await.unwrap();
    assert_ne!(rotated.secret, created.secret);
    let now = app.store.site_secret(&created.site.id).await.unwrap();
    assert_eq!(now.as_deref(), Some(rotated.secret.as_str()));
    // The default site gets its first secret the same way.
    let response = admin.post("/sites/default/secret", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Changes apply at once, without a restart: B now admits A's origin too.
    let response = admin
        .send(
            Method::PUT,
            &path,
            Some(json!({"name": "Bee shop", "allowed_origins": [B, "HTTPS://A.example/"]})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let site: SiteAdmin = response.json().await.unwrap();
    assert_eq!(site.settings.allowed_origins, [B, A]);
    started(&app, Via::Frame(&created.site.key, A)).await;
}

/// Open every day of the week, all day, in UTC.
fn open_all_week() -> Value {
    let day = json!([[0, 1440]]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

#[tokio::test]
async fn hours_greeting_and_the_away_reply_are_per_site() {
    let (app, admin, created) = two_sites().await;
    let b = created.site.key.clone();
    // Site B is closed today (a holiday around now); the default site has
    // no hours: always open.
    let today = chrono::DateTime::from_timestamp_millis(app.state.now_ms()).unwrap();
    let holidays: Vec<String> = [-1i64, 0, 1]
        .iter()
        .map(|d| {
            (today + chrono::Duration::days(*d))
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect();
    let response = admin
        .send(
            Method::PUT,
            &format!("/settings/hours?site={}", created.site.id),
            Some(json!({
                "time_zone": "UTC",
                "hours": open_all_week(),
                "holidays": holidays,
                "greeting": "Bee greeting",
                "away_message": "Bees are asleep."
            })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = admin.get("/settings/hours?site=s_nope").await;
    assert_error(response, StatusCode::NOT_FOUND, "site_not_found").await;
    let default_hours: Value = admin.get("/settings/hours").await.json().await.unwrap();
    assert_eq!(default_hours["greeting"], Value::Null);
    let b_hours: Value = admin
        .get(&format!("/settings/hours?site={}", created.site.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_hours["greeting"], "Bee greeting");

    // The widget's status follows the request's site.
    let on_b = widget_status(&app, Via::Frame(&b, B)).await;
    assert!(!on_b.open);
    assert_eq!(on_b.greeting.as_deref(), Some("Bee greeting"));
    assert!(on_b.away_message.unwrap().starts_with("Bees are asleep."));
    let on_a = widget_status(&app, Via::Frame("default", A)).await;
    assert!(on_a.open);
    assert_eq!(on_a.greeting, None);
    // The greeting shows in the site's settings and widget configuration.
    let site = app.store.site(&created.site.id).unwrap().admin();
    assert_eq!(site.settings.greeting.as_deref(), Some("Bee greeting"));
    assert_eq!(
        config(&app, &b, "en", B).await.greeting.as_deref(),
        Some("Bee greeting")
    );

    // The away reply: on site B's conversation, not on the default site's.
    let b_conversation = started(&app, Via::Frame(&b, B)).await;
    let a_conversation = started(&app, Via::Frame("default", A)).await;
    send(&app, &b_conversation.token, "anyone?", Via::Frame(&b, B)).await;
    send(
        &app,
        &a_conversation.token,
        "anyone?",
        Via::Frame("default", A),
    )
    .await;
    let b_messages = messages(&app, &b_conversation.token, Via::Frame(&b, B)).await;
    assert_eq!(b_messages.len(), 2, "{b_messages:?}");
    assert_eq!(b_messages[1].0, messenger_wire::Author::Bot);
    assert!(b_messages[1].1.starts_with("Bees are asleep."));
    let a_messages = messages(&app, &a_conversation.token, Via::Frame("default", A)).await;
    assert_eq!(a_messages.len(), 1, "{a_messages:?}");
}

#[tokio::test]
async fn allowed_origins_seed_the_default_site_only_while_its_list_is_empty() {
    let (app, admin, _) = two_sites().await;
    let response = admin
        .send(
            Method::PUT,
            "/sites/default",
            Some(json!({"name": "Main", "allowed_origins": [B]})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A restart with the flag keeps what the admin set.
    let app = app
        .restart_with(|c| c.allowed_origins = vec![A.parse().unwrap()])
        .await;
    let site = app.store.site("default").unwrap();
    assert_eq!(site.settings.allowed_origins, [B]);
    assert_eq!(site.settings.name, "Main");
    assert_error(
        start(&app, Via::Frame("default", A)).await,
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
    )
    .await;
    started(&app, Via::Frame("default", B)).await;
}
