//! Agent accounts and inbox sessions against the real server on port 0:
//! signing in and out, the cookie, CSRF and origin rules, rate limiting,
//! password changes, admins managing agents, the inbox stream ending with
//! its session, and the `create-admin` command.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use messenger_wire::{AgentAccount, AgentList, AgentRef, InboxSession, Role, Team};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use support::{InboxClient, PASSWORD, TestApp, assert_error};

/// Every inbox route but signing in, with a body that would be valid.
fn routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/session", None),
        (Method::DELETE, "/session", None),
        (
            Method::POST,
            "/password",
            Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
        ),
        (Method::GET, "/agents", None),
        (
            Method::POST,
            "/agents",
            Some(
                json!({"email": "new@example.com", "name": "New", "password": PASSWORD, "role": "agent"}),
            ),
        ),
        (Method::POST, "/agents/a_0123/disable", None),
        (Method::POST, "/agents/a_0123/enable", None),
        (Method::GET, "/team", None),
        (Method::GET, "/events", None),
    ]
}

/// Reads the response body until it ends; `false` if it is still open
/// after `wait`.
async fn ends_within(mut response: Response, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => return false,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None) | Err(_)) => return true,
        }
    }
}

async fn open_events(client: &InboxClient) -> Response {
    let response = client.get("/events").await;
    assert_eq!(response.status(), StatusCode::OK);
    response
}

// ---- signing in and out -----------------------------------------------------

#[tokio::test]
async fn an_admin_signs_in_and_gets_an_http_only_strict_session_cookie() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("ann@example.com").await;
    let response = app.login_raw("ann@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("mw_session=mws_"), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} has {attribute}");
    }
    assert!(!cookie.contains("Secure"), "not over plain http: {cookie}");
    let session: InboxSession = response.json().await.unwrap();
    assert_eq!(session.agent, admin);
    assert_eq!(session.agent.role, Role::Admin);

    let client = app.login("ann@example.com", PASSWORD).await;
    let again: InboxSession = client.get("/session").await.json().await.unwrap();
    assert_eq!(again.agent.id, admin.id);
    assert_eq!(
        again.csrf_token, client.csrf,
        "a reloaded page gets its token back"
    );
    assert_ne!(
        client.csrf, session.csrf_token,
        "each session has its own token"
    );
}

#[tokio::test]
async fn the_email_is_matched_without_regard_to_case() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("Ann@Example.com").await;
    assert_eq!(admin.email, "ann@example.com");
    let client = app.login("  ANN@example.COM ", PASSWORD).await;
    assert_eq!(client.agent.id, admin.id);
}

#[tokio::test]
async fn a_wrong_password_an_unknown_email_and_a_disabled_agent_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let bob = app
        .create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    app.store
        .set_agent_disabled(&bob.id, true, messenger_server::now_ms())
        .await
        .unwrap();
    let mut messages = Vec::new();
    for (email, password) in [
        ("ann@example.com", "not the right password"),
        ("nobody@example.com", PASSWORD),
        ("bob@example.com", PASSWORD),
    ] {
        let response = app.login_raw(email, password).await;
        assert!(response.headers().get("set-cookie").is_none());
        messages
            .push(assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await);
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "one answer for every failure");
}

#[tokio::test]
async fn logging_out_ends_the_session_its_stream_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    let stream = open_events(&client).await;

    let response = client.delete("/session").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("mw_session=;") && cleared.contains("Max-Age=0"));

    assert!(ends_within(stream, Duration::from_secs(5)).await);
    assert_error(
        client.get("/session").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

// ---- authentication, CSRF and origin ----------------------------------------

#[tokio::test]
async fn every_inbox_route_without_a_valid_session_gets_401() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let forged = "mw_session=mws_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for cookie in [None, Some(forged), Some("mw_session="), Some("other=1")] {
        for (method, path, body) in routes() {
            let mut request = app
                .client
                .request(method.clone(), app.api(&format!("/inbox{path}")))
                .header("x-csrf-token", "anything");
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {cookie:?}"
            );
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }
}

#[tokio::test]
async fn state_changing_requests_without_the_csrf_token_or_with_a_forged_one_get_403() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    let other = app.login("ann@example.com", PASSWORD).await;
    for csrf in [None, Some("forged"), Some(other.csrf.as_str()), Some("")] {
        for (method, path, body) in routes() {
            if method == Method::GET {
                continue;
            }
            let mut request = client.request(method.clone(), path);
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} with {csrf:?}"
            );
            assert_error(response, StatusCode::FORBIDDEN, "csrf_failed").await;
        }
    }
    // Nothing happened: the session is still there, the account unchanged.
    assert_eq!(client.get("/session").await.status(), StatusCode::OK);
    let agents: AgentList = client.get("/agents").await.json().await.unwrap();
    assert_eq!(agents.agents.len(), 1);
    // Reads need no token.
    let read = client
        .request(Method::GET, "/session")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_with_the_session_cookie_from_a_foreign_origin_is_refused() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    for (method, path, body) in routes() {
        let mut request = app
            .client
            .request(method.clone(), app.api(&format!("/inbox{path}")))
            .header("cookie", &client.cookie)
            .header("x-csrf-token", &client.csrf)
            .header("origin", "https://evil.example");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let cross_site = client
        .request(Method::GET, "/session")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_error(cross_site, StatusCode::FORBIDDEN, "forbidden").await;
    // Signing in from another site is refused too (login CSRF).
    let login = app
        .client
        .post(app.api("/inbox/session"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::FORBIDDEN, "forbidden").await;
    // Our own origin, and a same-origin fetch, are fine.
    let own = client
        .request(Method::GET, "/session")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_an_https_public_url_the_cookie_is_secure_and_that_origin_is_ours() {
    let app = TestApp::spawn_with(|config| {
        config.public_url = Some("https://chat.example.com/".into());
    })
    .await;
    app.create_admin("ann@example.com").await;
    let response = app
        .client
        .post(app.api("/inbox/session"))
        .header("origin", "https://chat.example.com")
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain http on our host is another origin now.
    let plain = app
        .client
        .post(app.api("/inbox/session"))
        .header("origin", &app.url)
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(plain, StatusCode::FORBIDDEN, "forbidden").await;
}

// ---- rate limiting ----------------------------------------------------------

#[tokio::test]
async fn the_sixth_failed_login_for_one_email_within_the_window_gets_429_with_retry_after() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    for _ in 0..5 {
        let response = app.login_raw("ann@example.com", "wrong password!").await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // Even the right password: the limit must not tell which guess was right.
    let response = app.login_raw("ANN@example.com", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // Another account is not locked by it.
    app.login("bob@example.com", PASSWORD).await;
}

#[tokio::test]
async fn failed_logins_from_one_address_across_many_emails_are_limited_too() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    for i in 0..20 {
        let response = app
            .login_raw(&format!("guess{i}@example.com"), "wrong password!")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let response = app.login_raw("ann@example.com", PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

#[tokio::test]
async fn successful_logins_do_not_count_against_the_limit() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    for _ in 0..8 {
        app.login("ann@example.com", PASSWORD).await;
    }
}

// ---- passwords --------------------------------------------------------------

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_their_streams_but_keeps_this_one() {
    let app = TestApp::spawn().await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let laptop = app.login("bob@example.com", PASSWORD).await;
    let phone = app.login("bob@example.com", PASSWORD).await;
    let phone_stream = open_events(&phone).await;
    let laptop_stream = open_events(&laptop).await;

    let new_password = "a much better passphrase";
    let response = laptop
        .post(
            "/password",
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert!(ends_within(phone_stream, Duration::from_secs(5)).await);
    assert_error(
        phone.get("/session").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(laptop.get("/session").await.status(), StatusCode::OK);
    assert!(
        !ends_within(laptop_stream, Duration::from_millis(300)).await,
        "this session's stream stays open"
    );
    assert_error(
        app.login_raw("bob@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    app.login("bob@example.com", new_password).await;
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_a_long_new_one() {
    let app = TestApp::spawn().await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let client = app.login("bob@example.com", PASSWORD).await;
    let wrong = client
        .post(
            "/password",
            json!({"current_password": "not my password", "new_password": "a much better passphrase"}),
        )
        .await;
    assert_error(wrong, StatusCode::FORBIDDEN, "invalid_credentials").await;
    let short = client
        .post(
            "/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_error(short, StatusCode::UNPROCESSABLE_ENTITY, "weak_password").await;
    app.login("bob@example.com", PASSWORD).await;
}

// ---- admins and agents ------------------------------------------------------

#[tokio::test]
async fn an_admin_creates_agents_who_can_then_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    let response = client
        .post(
            "/agents",
            json!({"email": "Carl@Example.com", "name": " Carl ", "password": PASSWORD, "role": "agent"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let carl: AgentAccount = response.json().await.unwrap();
    assert!(carl.id.starts_with("a_"));
    assert_eq!(
        (carl.email.as_str(), carl.name.as_str(), carl.role),
        ("carl@example.com", "Carl", Role::Agent)
    );
    let list: AgentList = client.get("/agents").await.json().await.unwrap();
    let ids: Vec<_> = list.agents.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [admin.id.as_str(), carl.id.as_str()]);
    let body = client.get("/agents").await.text().await.unwrap();
    assert!(!body.contains("argon2"), "no password hash is ever shown");

    assert_eq!(
        app.login("carl@example.com", PASSWORD).await.agent.id,
        carl.id
    );
}

#[tokio::test]
async fn creating_an_agent_refuses_a_taken_email_a_short_password_and_a_bad_email() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    for (body, status, code) in [
        (
            json!({"email": "ANN@example.com", "name": "Ann 2", "password": PASSWORD, "role": "agent"}),
            StatusCode::CONFLICT,
            "email_taken",
        ),
        (
            json!({"email": "dan@example.com", "name": "Dan", "password": "too short", "role": "agent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
        ),
        (
            json!({"email": "not an email", "name": "Dan", "password": PASSWORD, "role": "agent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"email": "dan@example.com", "name": "  ", "password": PASSWORD, "role": "agent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ] {
        assert_error(client.post("/agents", body).await, status, code).await;
    }
}

#[tokio::test]
async fn an_agent_who_is_not_an_admin_gets_403_on_admin_routes() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("ann@example.com").await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    assert_error(bob.get("/agents").await, StatusCode::FORBIDDEN, "forbidden").await;
    let create = bob
        .post(
            "/agents",
            json!({"email": "eve@example.com", "name": "Eve", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_error(create, StatusCode::FORBIDDEN, "forbidden").await;
    for action in ["disable", "enable"] {
        let response = bob
            .post(&format!("/agents/{}/{action}", admin.id), json!({}))
            .await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert!(
        app.store
            .agent_by_email("eve@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn every_agent_sees_the_enabled_agents_by_name_in_the_team_directory() {
    let app = TestApp::spawn().await;
    let ann = app
        .create_agent("ann@example.com", "Ann", Role::Admin)
        .await;
    let zoe = app
        .create_agent("zoe@example.com", "zoe", Role::Agent)
        .await;
    let bob = app
        .create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let eve = app
        .create_agent("eve@example.com", "Eve", Role::Agent)
        .await;
    app.store
        .set_agent_disabled(&eve.id, true, messenger_server::now_ms())
        .await
        .unwrap();

    // Bob is not an admin: the team is his to read all the same.
    let bob_client = app.login("bob@example.com", PASSWORD).await;
    let response = bob_client.get("/team").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let team: Team = response.json().await.unwrap();
    let expected: Vec<AgentRef> = [&ann, &bob, &zoe]
        .into_iter()
        .map(|a| AgentRef {
            id: a.id.clone(),
            name: a.name.clone(),
        })
        .collect();
    assert_eq!(team.agents, expected, "enabled only, by name, case ignored");
    // Only ids and names: no emails, roles or dates.
    let raw: serde_json::Value = bob_client.get("/team").await.json().await.unwrap();
    assert_eq!(
        raw,
        json!({"agents": serde_json::to_value(&expected).unwrap()})
    );

    // A GET needs no CSRF token.
    let without_csrf = bob_client
        .request(Method::GET, "/team")
        .send()
        .await
        .unwrap();
    assert_eq!(without_csrf.status(), StatusCode::OK);

    // Enabled again, Eve is back.
    app.store
        .set_agent_disabled(&eve.id, false, messenger_server::now_ms())
        .await
        .unwrap();
    let team: Team = bob_client.get("/team").await.json().await.unwrap();
    assert!(team.agents.iter().any(|a| a.id == eve.id));
}

#[tokio::test]
async fn the_team_directory_needs_a_session() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let response = app.client.get(app.api("/inbox/team")).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn disabling_an_agent_closes_its_open_stream_and_its_next_request_gets_401() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let bob_account = app
        .create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let admin = app.login("ann@example.com", PASSWORD).await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    let stream = open_events(&bob).await;

    let response = admin
        .post(&format!("/agents/{}/disable", bob_account.id), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let disabled: AgentAccount = response.json().await.unwrap();
    assert!(disabled.disabled_at.is_some());

    assert!(
        ends_within(stream, Duration::from_secs(5)).await,
        "the disabled agent's stream is closed"
    );
    assert_error(
        bob.get("/session").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.login_raw("bob@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let enabled = admin
        .post(&format!("/agents/{}/enable", bob_account.id), json!({}))
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    app.login("bob@example.com", PASSWORD).await;
    assert_error(
        admin.post("/agents/a_nobody/disable", json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_admin_cannot_disable_their_own_account() {
    let app = TestApp::spawn().await;
    let ann = app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    let response = client
        .post(&format!("/agents/{}/disable", ann.id), json!({}))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(client.get("/session").await.status(), StatusCode::OK);
}

// ---- the inbox stream -------------------------------------------------------

#[tokio::test]
async fn the_inbox_stream_carries_every_conversation_like_the_agent_stream() {
    let app = TestApp::spawn().await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    let mut events = support::EventStream::new(open_events(&bob).await);
    let started = app.start_conversation().await;
    app.send(&started.token, "m1", "Hello inbox").await;
    let event = events.next_of("message").await.expect("a message event");
    let message: messenger_wire::MessageEvent = serde_json::from_str(&event.data).unwrap();
    assert_eq!(message.conversation_id, started.conversation.id);
    assert_eq!(message.message.body, "Hello inbox");
}

#[tokio::test]
async fn sessions_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    app.create_admin("ann@example.com").await;
    let client = app.login("ann@example.com", PASSWORD).await;
    let token = client.cookie.trim_start_matches("mw_session=").to_owned();
    let mut app = app;
    app.stop().await;
    let bytes = app.stored_bytes().await;
    assert!(
        bytes.windows(15).any(|w| w == b"ann@example.com"),
        "the search sees the stored accounts"
    );
    for secret in [
        token.as_bytes(),
        client.csrf.as_bytes(),
        PASSWORD.as_bytes(),
    ] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    }
}

// ---- the create-admin command -----------------------------------------------

fn create_admin_command(database: &str, email: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_messenger-server"));
    command
        .args(["create-admin", "--email", email, "--name", "Root"])
        .arg("--database")
        .arg(database)
        .env_remove("MESSENGER_DATABASE")
        .env_remove("MESSENGER_ADMIN_PASSWORD")
        .stdin(Stdio::null());
    command
}

#[tokio::test]
async fn create_admin_makes_an_admin_who_can_sign_in_and_refuses_a_taken_email() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_arg(&support::database_in(dir.path()).await);
    let output = create_admin_command(&database, "root@example.com")
        .env("MESSENGER_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let id = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(id.starts_with("a_") && id.len() == 34, "{id}");

    let again = create_admin_command(&database, "ROOT@example.com")
        .env("MESSENGER_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");

    let app = TestApp::spawn_in(dir, |_| {}).await;
    let client = app.login("root@example.com", PASSWORD).await;
    assert_eq!(client.agent.id, id);
    assert_eq!(client.agent.role, Role::Admin);
}

#[tokio::test]
async fn create_admin_reads_the_password_from_standard_input_and_refuses_a_short_one() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_arg(&support::database_in(dir.path()).await);
    let run = |email: &str, input: &str| {
        let mut child = create_admin_command(&database, email)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("short@example.com", "too short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("12"));
    let ok = run("root@example.com", &format!("{PASSWORD}\n"));
    assert!(ok.status.success(), "{ok:?}");

    let app = TestApp::spawn_in(dir, |_| {}).await;
    app.login("root@example.com", PASSWORD).await;
    assert_error(
        app.login_raw("short@example.com", "too short").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}
