//! Identity verification against the real server: a site's backend signs
//! a JWT (HS256, the site's secret); the same verified user finds the same
//! conversations on every device; bad, expired, foreign or wrongly signed
//! identities are refused and create nothing; anonymous conversations
//! become a verified user's only by an explicit claim, never by email;
//! forget ends one device's token; profile is refused where the site
//! enforces verification.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use messenger_wire::{ConversationPage, CreatedSite, CustomerAccount, StartedConversation};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use support::{InboxClient, PASSWORD, TestApp, assert_error};

/// A site created by an admin in the inbox, with its secret.
struct Site {
    id: String,
    key: String,
    secret: String,
}

async fn admin(app: &TestApp) -> InboxClient {
    app.create_admin("admin@example.com").await;
    app.login("admin@example.com", PASSWORD).await
}

async fn create_site(admin: &InboxClient, name: &str) -> Site {
    let response = admin.post("/sites", json!({ "name": name })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: CreatedSite = response.json().await.unwrap();
    assert!(created.site.has_secret);
    Site {
        id: created.site.id,
        key: created.site.key,
        secret: created.secret,
    }
}

/// Unix seconds by the server's clock.
fn now_secs(app: &TestApp) -> i64 {
    app.state.now_ms() / 1000
}

fn sign_with(claims: &Value, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// What a site's backend hands the page: `sub`, an expiry 10 minutes
/// ahead, and the given extra claims.
fn identity(app: &TestApp, site: &Site, sub: &str, extra: Value) -> String {
    let mut claims = json!({ "sub": sub, "exp": now_secs(app) + 600, "iat": now_secs(app) });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign_with(&claims, Algorithm::HS256, &site.secret)
}

/// A token with any header, signed (HMAC-SHA256) with `secret`: what an
/// attacker who knows a public key, or nothing, might try.
fn forged(header: Value, claims: &Value, secret: Option<&str>) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match secret {
        Some(secret) => jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap(),
        None => String::new(),
    };
    format!("{message}.{signature}")
}

/// `POST /identify` on `site` (a key; `None`: no site header), with an
/// optional bearer.
async fn identify_raw(
    app: &TestApp,
    site: Option<&str>,
    jwt: &str,
    bearer: Option<&str>,
) -> Response {
    let mut request = app
        .client
        .post(app.api("/identify"))
        .json(&json!({ "identity": jwt }));
    if let Some(site) = site {
        request = request.header("x-messenger-site", site);
    }
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap()
}

#[derive(serde::Deserialize, Debug)]
struct Identified {
    token: Option<String>,
    customer: CustomerAccount,
    claimable: bool,
}

async fn identify(app: &TestApp, site: &Site, jwt: &str) -> Identified {
    let response = identify_raw(app, Some(&site.key), jwt, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// `POST /conversations` on `site`, anonymous or with an identity.
async fn start(app: &TestApp, site: &Site, jwt: Option<&str>) -> StartedConversation {
    let mut body = json!({});
    if let Some(jwt) = jwt {
        body["identity"] = json!(jwt);
    }
    let response = app
        .client
        .post(app.api("/conversations"))
        .header("x-messenger-site", &site.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// A customer request on `site` with a bearer token.
fn customer_request(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    site: &Site,
    token: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.api(path))
        .header("x-messenger-site", &site.key)
        .bearer_auth(token)
}

async fn account_raw(app: &TestApp, site: &Site, token: &str) -> Response {
    customer_request(app, reqwest::Method::GET, "/customer", site, token)
        .send()
        .await
        .unwrap()
}

async fn account(app: &TestApp, site: &Site, token: &str) -> CustomerAccount {
    let response = account_raw(app, site, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn ids_of(account: &CustomerAccount) -> Vec<String> {
    let mut ids: Vec<String> = account
        .conversations
        .iter()
        .map(|c| c.conversation.id.clone())
        .collect();
    ids.sort();
    ids
}

async fn send_on(app: &TestApp, site: &Site, token: &str, client_id: &str, body: &str) {
    let response = customer_request(
        app,
        reqwest::Method::POST,
        "/conversation/messages",
        site,
        token,
    )
    .json(&json!({ "client_id": client_id, "body": body }))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// The conversation a token opens, with all its messages (up to a page).
async fn read_on(app: &TestApp, site: &Site, token: &str) -> ConversationPage {
    let response = read_raw_on(app, site, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn read_raw_on(app: &TestApp, site: &Site, token: &str) -> Response {
    customer_request(app, reqwest::Method::GET, "/conversation", site, token)
        .send()
        .await
        .unwrap()
}

async fn claim_raw(app: &TestApp, site: &Site, token: &str, jwt: &str) -> Response {
    customer_request(app, reqwest::Method::POST, "/customer/claim", site, token)
        .json(&json!({ "identity": jwt }))
        .send()
        .await
        .unwrap()
}

async fn forget_raw(app: &TestApp, site: &Site, token: &str) -> Response {
    customer_request(app, reqwest::Method::POST, "/customer/forget", site, token)
        .send()
        .await
        .unwrap()
}

async fn profile_raw(app: &TestApp, site: &Site, token: &str, body: Value) -> Response {
    customer_request(app, reqwest::Method::PUT, "/customer/profile", site, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// How many verified customers the database holds.
async fn verified_count(app: &TestApp) -> i64 {
    let db = app.database().await;
    let count = sqlx::query_scalar("SELECT count(*) FROM customers WHERE external_id IS NOT NULL")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    count
}

#[tokio::test]
async fn the_same_user_sees_the_same_conversations_on_two_devices() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;
    let jwt = identity(&app, &site, "user-42", json!({ "name": "Ada Lovelace" }));

    // Laptop: a first visit; nothing yet.
    let laptop = identify(&app, &site, &jwt).await;
    assert_eq!(laptop.token, None);
    assert!(laptop.customer.conversations.is_empty());

    // The laptop starts a conversation as that user and writes.
    let first = start(&app, &site, Some(&jwt)).await;
    send_on(&app, &site, &first.token, "m1", "Where is my order?").await;

    // Phone: identifies with a fresh token from the site's backend and
    // gets a token of its own for the same conversation.
    let phone_jwt = identity(&app, &site, "user-42", json!({}));
    let phone = identify(&app, &site, &phone_jwt).await;
    let phone_token = phone.token.expect("a token for the user's conversation");
    assert_ne!(phone_token, first.token);
    assert!(phone_token.starts_with("mwc_"));
    assert_eq!(ids_of(&phone.customer), vec![first.conversation.id.clone()]);
    let page = read_on(&app, &site, &phone_token).await;
    assert_eq!(page.conversation.id, first.conversation.id);
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].body, "Where is my order?");

    // A second conversation from the phone shows on the laptop too.
    let second = start(&app, &site, Some(&phone_jwt)).await;
    send_on(
        &app,
        &site,
        &second.token,
        "m2",
        "And a question about returns",
    )
    .await;
    let on_laptop = account(&app, &site, &first.token).await;
    let mut both = vec![
        first.conversation.id.clone(),
        second.conversation.id.clone(),
    ];
    both.sort();
    assert_eq!(ids_of(&on_laptop), both);

    // Identifying again on the phone with its current token keeps it.
    let response = identify_raw(&app, Some(&site.key), &phone_jwt, Some(&phone_token)).await;
    let again: Identified = response.json().await.unwrap();
    assert_eq!(again.token.as_deref(), Some(phone_token.as_str()));
    assert!(!again.claimable, "a verified token is nothing to claim");

    // One verified customer, named as the site vouched.
    assert_eq!(verified_count(&app).await, 1);
    let inbox = admin.list("").await;
    assert_eq!(inbox.conversations.len(), 2);
    for conversation in &inbox.conversations {
        assert_eq!(conversation.customer.name.as_deref(), Some("Ada Lovelace"));
    }

    // Someone else signing in on that phone without a reset is not offered
    // Ada's conversations to add.
    let other = identity(&app, &site, "user-2", json!({}));
    let response = identify_raw(&app, Some(&site.key), &other, Some(&phone_token)).await;
    let someone_else: Identified = response.json().await.unwrap();
    assert!(!someone_else.claimable);
    assert_eq!(someone_else.token, None);
}

#[tokio::test]
async fn bad_identities_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;
    let now = now_secs(&app);
    let good = json!({ "sub": "user-1", "exp": now + 600 });
    let header = |alg: &str| json!({ "alg": alg, "typ": "JWT" });

    let invalid = [
        // A good token whose signature was tampered with.
        {
            let token = sign_with(&good, Algorithm::HS256, &site.secret);
            let (rest, signature) = token.rsplit_once('.').unwrap();
            let flipped = if signature.starts_with('A') { "B" } else { "A" };
            format!("{rest}.{flipped}{}", &signature[1..])
        },
        // Claims changed after signing.
        {
            let token = sign_with(&good, Algorithm::HS256, &site.secret);
            let parts: Vec<&str> = token.split('.').collect();
            let other =
                URL_SAFE_NO_PAD.encode(json!({ "sub": "admin", "exp": now + 600 }).to_string());
            format!("{}.{other}.{}", parts[0], parts[2])
        },
        sign_with(&good, Algorithm::HS256, "not the site's secret"),
        forged(header("none"), &good, None),
        forged(header("none"), &good, Some(&site.secret)),
        sign_with(&good, Algorithm::HS512, &site.secret),
        sign_with(&good, Algorithm::HS384, &site.secret),
        // RS256 in the header, "signed" with the secret as an HMAC key.
        forged(header("RS256"), &good, Some(&site.secret)),
        sign_with(&json!({ "exp": now + 600 }), Algorithm::HS256, &site.secret),
        sign_with(
            &json!({ "sub": "", "exp": now + 600 }),
            Algorithm::HS256,
            &site.secret,
        ),
        sign_with(&json!({ "sub": "user-1" }), Algorithm::HS256, &site.secret),
        // Valid for a year: not the short-lived token we ask for.
        sign_with(
            &json!({ "sub": "user-1", "exp": now + 365 * 86_400 }),
            Algorithm::HS256,
            &site.secret,
        ),
        sign_with(
            &json!({ "sub": "user-1", "exp": "soon" }),
            Algorithm::HS256,
            &site.secret,
        ),
        "not a jwt".to_owned(),
        String::new(),
    ];
    for (i, jwt) in invalid.iter().enumerate() {
        let response = identify_raw(&app, Some(&site.key), jwt, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "case {i}");
        assert_error(response, StatusCode::UNAUTHORIZED, "identity_invalid").await;
    }

    let expired = sign_with(
        &json!({ "sub": "user-1", "exp": now - 120 }),
        Algorithm::HS256,
        &site.secret,
    );
    let response = identify_raw(&app, Some(&site.key), &expired, None).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "identity_expired").await;

    // Starting a conversation with a bad or expired identity fails as well,
    // and starts nothing.
    for (jwt, code) in [
        (&invalid[2], "identity_invalid"),
        (&expired, "identity_expired"),
    ] {
        let response = app
            .client
            .post(app.api("/conversations"))
            .header("x-messenger-site", &site.key)
            .json(&json!({ "identity": jwt }))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, code).await;
    }
    assert!(admin.list("").await.conversations.is_empty());
    assert_eq!(verified_count(&app).await, 0);

    // The good one passes.
    let jwt = sign_with(&good, Algorithm::HS256, &site.secret);
    identify(&app, &site, &jwt).await;
    assert_eq!(verified_count(&app).await, 1);
}

#[tokio::test]
async fn an_identity_of_one_site_is_invalid_on_another() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let shop = create_site(&admin, "Shop").await;
    let blog = create_site(&admin, "Blog").await;
    let on_shop = identity(&app, &shop, "user-1", json!({}));
    let started = start(&app, &shop, Some(&on_shop)).await;

    let response = identify_raw(&app, Some(&blog.key), &on_shop, None).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "identity_invalid").await;
    assert_eq!(verified_count(&app).await, 1);

    // The same user id signed by the blog is another customer, who sees
    // nothing of the shop's conversations.
    let on_blog = identify(&app, &blog, &identity(&app, &blog, "user-1", json!({}))).await;
    assert_eq!(on_blog.token, None);
    assert!(on_blog.customer.conversations.is_empty());

    // A shop token presented on the blog opens nothing there.
    let response = account_raw(&app, &blog, &started.token).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = forget_raw(&app, &blog, &started.token).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Nor can a shop visitor's anonymous conversation be claimed on the blog.
    let anonymous = start(&app, &shop, None).await;
    let blog_jwt = identity(&app, &blog, "user-1", json!({}));
    let response = claim_raw(&app, &blog, &anonymous.token, &blog_jwt).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(
        ids_of(&account(&app, &shop, &anonymous.token).await),
        vec![anonymous.conversation.id.clone()]
    );
    assert_eq!(
        account(&app, &shop, &started.token)
            .await
            .conversations
            .len(),
        1
    );
}

#[tokio::test]
async fn a_site_without_a_secret_cannot_verify() {
    let app = TestApp::spawn().await;
    // The default site (the one-site era's) has no secret until an admin
    // makes one.
    let jwt = sign_with(
        &json!({ "sub": "user-1", "exp": now_secs(&app) + 600 }),
        Algorithm::HS256,
        "anything",
    );
    let response = identify_raw(&app, None, &jwt, None).await;
    assert_error(response, StatusCode::BAD_REQUEST, "identity_not_configured").await;
    assert_eq!(verified_count(&app).await, 0);
}

#[tokio::test]
async fn anonymous_conversations_join_only_by_claim_never_by_email() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;

    // Before signing in, the visitor writes and leaves their email.
    let anonymous = start(&app, &site, None).await;
    send_on(&app, &site, &anonymous.token, "a1", "Hello, before login").await;
    let response = customer_request(
        &app,
        reqwest::Method::PUT,
        "/customer/email",
        &site,
        &anonymous.token,
    )
    .json(&json!({ "email": "ada@example.com" }))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Another device of the same visitor (a token of the same customer).
    let other_device = customer_request(
        &app,
        reqwest::Method::POST,
        &format!(
            "/customer/conversations/{}/token",
            anonymous.conversation.id
        ),
        &site,
        &anonymous.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(other_device.status(), StatusCode::CREATED);
    let other_device: StartedConversation = other_device.json().await.unwrap();

    // The verified user has the same email: identify attaches nothing.
    let jwt = identity(&app, &site, "user-7", json!({ "email": "ada@example.com" }));
    let identified = identify(&app, &site, &jwt).await;
    assert_eq!(identified.token, None);
    assert!(identified.customer.conversations.is_empty());
    assert_eq!(
        identified.customer.email.as_deref(),
        Some("ada@example.com")
    );
    // ... and the anonymous customer still has only their own.
    assert_eq!(
        ids_of(&account(&app, &site, &anonymous.token).await),
        vec![anonymous.conversation.id.clone()]
    );

    // A conversation the verified user starts stays theirs alone.
    let verified_own = start(&app, &site, Some(&jwt)).await;
    assert_eq!(
        ids_of(&account(&app, &site, &anonymous.token).await),
        vec![anonymous.conversation.id.clone()]
    );

    // Signing in on the device that holds it: offered, not done.
    let response = identify_raw(&app, Some(&site.key), &jwt, Some(&anonymous.token)).await;
    let offered: Identified = response.json().await.unwrap();
    assert!(offered.claimable, "an anonymous conversation may be added");
    assert_eq!(
        ids_of(&account(&app, &site, &anonymous.token).await),
        vec![anonymous.conversation.id.clone()]
    );

    // The visitor's own action: claim.
    let response = claim_raw(&app, &site, &anonymous.token, &jwt).await;
    assert_eq!(response.status(), StatusCode::OK);
    let claimed: Identified = response.json().await.unwrap();
    let claimed_token = claimed.token.expect("a token for the claimed conversation");
    let mut both = vec![
        anonymous.conversation.id.clone(),
        verified_own.conversation.id.clone(),
    ];
    both.sort();
    assert_eq!(ids_of(&claimed.customer), both);
    assert_eq!(
        read_on(&app, &site, &claimed_token).await.conversation.id,
        anonymous.conversation.id
    );
    // The anonymous customer's own tokens (this device's and the other
    // one's) do not follow: on a shared computer they may be someone
    // else's, and they would now open the verified user's history.
    for old in [&anonymous.token, &other_device.token] {
        let response = customer_request(&app, reqwest::Method::GET, "/customer", &site, old)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Another device of the verified user now sees the claimed history.
    let phone = identify(&app, &site, &identity(&app, &site, "user-7", json!({}))).await;
    assert_eq!(ids_of(&phone.customer), both);
    assert_eq!(read_on(&app, &site, &claimed_token).await.messages.len(), 1);

    // Claiming with a verified user's token: nothing to claim.
    let response = claim_raw(&app, &site, &claimed_token, &jwt).await;
    assert_error(response, StatusCode::CONFLICT, "already_identified").await;
    let response = claim_raw(&app, &site, phone.token.as_deref().unwrap(), &jwt).await;
    assert_error(response, StatusCode::CONFLICT, "already_identified").await;
    // A claim needs a valid token and a valid identity.
    let response = claim_raw(&app, &site, "mwc_unknown", &jwt).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let stranger = start(&app, &site, None).await;
    let expired = sign_with(
        &json!({ "sub": "user-7", "exp": now_secs(&app) - 3600 }),
        Algorithm::HS256,
        &site.secret,
    );
    let response = claim_raw(&app, &site, &stranger.token, &expired).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "identity_expired").await;
    assert_eq!(
        ids_of(&account(&app, &site, &stranger.token).await),
        vec![stranger.conversation.id.clone()]
    );
    assert_eq!(verified_count(&app).await, 1);
}

#[tokio::test]
async fn a_customer_with_a_verified_users_email_is_not_merged() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;
    let jwt = identity(
        &app,
        &site,
        "user-1",
        json!({ "email": "grace@example.com" }),
    );
    let verified = start(&app, &site, Some(&jwt)).await;

    // Someone else types the same address on another computer.
    let stranger = start(&app, &site, None).await;
    let response = profile_raw(
        &app,
        &site,
        &stranger.token,
        json!({ "name": "Grace?", "email": "grace@example.com" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stranger_account: CustomerAccount = response.json().await.unwrap();
    assert_eq!(
        ids_of(&stranger_account),
        vec![stranger.conversation.id.clone()]
    );

    // Neither sees the other's conversation, now or after identifying.
    let again = identify(&app, &site, &jwt).await;
    assert_eq!(
        ids_of(&again.customer),
        vec![verified.conversation.id.clone()]
    );
    assert_eq!(
        ids_of(&account(&app, &site, &stranger.token).await),
        vec![stranger.conversation.id.clone()]
    );
}

#[tokio::test]
async fn forget_ends_only_this_devices_token() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;
    let jwt = identity(&app, &site, "user-1", json!({}));
    let laptop = start(&app, &site, Some(&jwt)).await;
    let phone = identify(&app, &site, &jwt).await.token.unwrap();

    let response = forget_raw(&app, &site, &laptop.token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = account_raw(&app, &site, &laptop.token).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = read_raw_on(&app, &site, &laptop.token).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = forget_raw(&app, &site, &laptop.token).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // The phone still works, and the conversation is still there.
    assert_eq!(
        ids_of(&account(&app, &site, &phone).await),
        vec![laptop.conversation.id.clone()]
    );
    send_on(&app, &site, &phone, "p1", "Still here").await;
    // Signing in again on the laptop brings the history back.
    let back = identify(&app, &site, &jwt).await;
    assert_eq!(
        read_on(&app, &site, &back.token.unwrap())
            .await
            .messages
            .len(),
        1
    );

    // Without a token there is nothing to forget.
    let response = app
        .client
        .post(app.api("/customer/forget"))
        .header("x-messenger-site", &site.key)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn profile_sets_unverified_details_unless_the_site_enforces_verification() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;
    let started = start(&app, &site, None).await;
    send_on(&app, &site, &started.token, "q1", "A question").await;

    let response = profile_raw(
        &app,
        &site,
        &started.token,
        json!({ "name": "  Alan  ", "email": "alan@example.com" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let account: CustomerAccount = response.json().await.unwrap();
    assert_eq!(account.email.as_deref(), Some("alan@example.com"));
    let inbox = admin.list("").await;
    assert_eq!(
        inbox.conversations[0].customer.name.as_deref(),
        Some("Alan")
    );
    assert_eq!(
        inbox.conversations[0].customer.email.as_deref(),
        Some("alan@example.com")
    );
    // Only what is given changes; a bad address is refused.
    let response = profile_raw(&app, &site, &started.token, json!({ "email": "nope" })).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
    let response = profile_raw(&app, &site, &started.token, json!({ "email": null })).await;
    let account: CustomerAccount = response.json().await.unwrap();
    assert_eq!(account.email, None);
    let inbox = admin.list("").await;
    assert_eq!(
        inbox.conversations[0].customer.name.as_deref(),
        Some("Alan")
    );

    // The admin enforces verification: typed-in details are refused.
    let mut settings = json!({ "name": "Shop", "identity_required": true });
    let response = admin
        .send(
            reqwest::Method::PUT,
            &format!("/sites/{}", site.id),
            Some(settings.take()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = profile_raw(&app, &site, &started.token, json!({ "name": "Mallory" })).await;
    assert_error(response, StatusCode::FORBIDDEN, "identity_required").await;
    let inbox = admin.list("").await;
    assert_eq!(
        inbox.conversations[0].customer.name.as_deref(),
        Some("Alan")
    );
    // Signed identities still work there.
    let jwt = identity(&app, &site, "user-1", json!({ "name": "Alan Turing" }));
    identify(&app, &site, &jwt).await;

    // And a token is needed at all.
    let response = app
        .client
        .put(app.api("/customer/profile"))
        .header("x-messenger-site", &site.key)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// A panel left open longer than its page's identity token lives: a new
/// conversation started from a verified user's conversation is still
/// theirs; with only an anonymous token, the expired identity is refused.
#[tokio::test]
async fn a_new_conversation_from_a_verified_token_outlives_the_page_identity() {
    let app = TestApp::spawn().await;
    let admin = admin(&app).await;
    let site = create_site(&admin, "Shop").await;
    let first = start(
        &app,
        &site,
        Some(&identity(&app, &site, "user-3", json!({}))),
    )
    .await;
    let expired = sign_with(
        &json!({ "sub": "user-3", "exp": now_secs(&app) - 3600 }),
        Algorithm::HS256,
        &site.secret,
    );
    let start_from = |parent: String| {
        customer_request(
            &app,
            reqwest::Method::POST,
            "/conversations",
            &site,
            &parent,
        )
        .json(&json!({ "identity": expired }))
        .send()
    };

    let response = start_from(first.token.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let second: StartedConversation = response.json().await.unwrap();
    let mut both = vec![
        first.conversation.id.clone(),
        second.conversation.id.clone(),
    ];
    both.sort();
    assert_eq!(ids_of(&account(&app, &site, &first.token).await), both);

    let anonymous = start(&app, &site, None).await;
    let response = start_from(anonymous.token.clone()).await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "identity_expired").await;
    assert_eq!(
        ids_of(&account(&app, &site, &anonymous.token).await),
        vec![anonymous.conversation.id.clone()]
    );
}
