//! Agent API keys against the real server on port 0: admins create, list
//! and revoke them in the inbox; a key works on the agent API until it is
//! revoked; only its hash is stored; the configured key keeps working as a
//! bootstrap.

mod support;

use std::time::Duration;

use messenger_wire::{ApiKeyInfo, ApiKeyList, CreatedApiKey, Role};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use support::{AGENT_KEY, InboxClient, PASSWORD, TestApp, assert_error};

/// The key routes, with a body that would be valid.
fn key_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api-keys", None),
        (Method::POST, "/api-keys", Some(json!({"name": "CRM"}))),
        (Method::POST, "/api-keys/k_0123/revoke", None),
    ]
}

async fn agent_list(app: &TestApp, key: &str) -> Response {
    app.client
        .get(app.api("/agent/conversations"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn create_key(admin: &InboxClient, name: &str) -> CreatedApiKey {
    let response = admin.post("/api-keys", json!({ "name": name })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn admin(app: &TestApp) -> InboxClient {
    app.create_admin("ann@example.com").await;
    app.login("ann@example.com", PASSWORD).await
}

#[tokio::test]
async fn an_admin_creates_a_key_shown_once_that_works_on_the_agent_api() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "  CRM sync ").await;
    assert!(created.secret.starts_with("mwk_"), "{}", created.secret);
    assert_eq!(created.secret.len(), 4 + 43);
    assert!(created.key.id.starts_with("k_"));
    assert_eq!(created.key.name, "CRM sync");
    assert_eq!(created.key.created_by.id, ann.agent.id);
    assert_eq!(created.key.created_by.name, "Admin");
    assert_eq!(created.key.hint, created.secret[..12]);
    assert_eq!(created.key.last_used_at, None);
    assert_eq!(created.key.revoked_at, None);
    assert!(!format!("{created:?}").contains(&created.secret));

    // The list holds the key, never its secret.
    let response = ann.get("/api-keys").await;
    assert_eq!(response.status(), StatusCode::OK);
    let raw = response.text().await.unwrap();
    assert!(!raw.contains(&created.secret), "{raw}");
    let list: ApiKeyList = serde_json::from_str(&raw).unwrap();
    assert_eq!(list.keys, vec![created.key.clone()]);

    // The key works, and its use is recorded.
    let conversation = app.start_conversation().await;
    app.send(&conversation.token, "c1", "Hello").await;
    let response = agent_list(&app, &created.secret).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["conversations"][0]["conversation"]["id"],
        conversation.conversation.id.as_str()
    );
    let reply = app
        .client
        .post(app.api(&format!(
            "/agent/conversations/{}/messages",
            conversation.conversation.id
        )))
        .bearer_auth(&created.secret)
        .json(&json!({"client_id": "a1", "body": "Hi!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let list: ApiKeyList = ann.get("/api-keys").await.json().await.unwrap();
    let used_at = list.keys[0].last_used_at.expect("last use recorded");
    assert!(used_at >= created.key.created_at);

    // A second key is listed after the first; both work.
    let second = create_key(&ann, "Bot").await;
    assert_ne!(second.secret, created.secret);
    let list: ApiKeyList = ann.get("/api-keys").await.json().await.unwrap();
    let ids: Vec<_> = list.keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, [created.key.id.as_str(), second.key.id.as_str()]);
    assert_eq!(
        agent_list(&app, &second.secret).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_revoked_key_gets_401_at_once_and_its_open_stream_ends() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "CRM").await;
    let kept = create_key(&ann, "Other").await;
    assert_eq!(
        agent_list(&app, &created.secret).await.status(),
        StatusCode::OK
    );
    let mut stream = app
        .client
        .get(app.api("/agent/events"))
        .bearer_auth(&created.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    let response = ann
        .post(&format!("/api-keys/{}/revoke", created.key.id), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let revoked: ApiKeyInfo = response.json().await.unwrap();
    assert_eq!(revoked.id, created.key.id);
    let revoked_at = revoked.revoked_at.expect("revoked");

    assert_error(
        agent_list(&app, &created.secret).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // The open stream ends.
    let ended = async { while let Ok(Some(_)) = stream.chunk().await {} };
    tokio::time::timeout(Duration::from_secs(5), ended)
        .await
        .expect("the stream of a revoked key ends");
    // Other keys and the configured key still work.
    assert_eq!(
        agent_list(&app, &kept.secret).await.status(),
        StatusCode::OK
    );
    assert_eq!(agent_list(&app, AGENT_KEY).await.status(), StatusCode::OK);

    // Revoking again changes nothing; the list shows the revocation.
    let again: ApiKeyInfo = ann
        .post(&format!("/api-keys/{}/revoke", created.key.id), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    let list: ApiKeyList = ann.get("/api-keys").await.json().await.unwrap();
    assert_eq!(list.keys[0].revoked_at, Some(revoked_at));
    assert_eq!(list.keys[1].revoked_at, None);

    let unknown = ann.post("/api-keys/k_0123/revoke", json!({})).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_database_stores_only_the_hash_of_a_key() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "CRM").await;
    let db = app.database().await;
    let (hash, hint): (Vec<u8>, String) =
        sqlx::query_as("SELECT key_hash, hint FROM api_keys WHERE id = $1")
            .bind(&created.key.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(hash, messenger_server::ids::hash_secret(&created.secret));
    assert_eq!(hint.len(), 12);
    // No column of any row holds the secret, whole or after its hint.
    let dump: Vec<String> = sqlx::query_scalar(
        "SELECT coalesce(id, '') || ' ' || name || ' ' || hint || ' ' || created_by FROM api_keys",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    for row in dump {
        assert!(!row.contains(&created.secret[12..]), "{row}");
    }
    db.close().await;
    let bytes = app.stored_bytes().await;
    let secret = created.secret.as_bytes();
    assert!(
        !bytes.windows(secret.len()).any(|w| w == secret),
        "the secret is nowhere in the database file"
    );
}

#[tokio::test]
async fn agents_who_are_not_admins_get_403_on_the_key_routes() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "CRM").await;
    app.create_agent("bob@example.com", "Bob", Role::Agent)
        .await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    for (method, path, body) in key_routes() {
        let path = path.replace("k_0123", &created.key.id);
        let response = bob.send(method.clone(), &path, body).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let list: ApiKeyList = ann.get("/api-keys").await.json().await.unwrap();
    assert_eq!(list.keys.len(), 1, "Bob created nothing");
    assert_eq!(list.keys[0].revoked_at, None, "Bob revoked nothing");
}

#[tokio::test]
async fn the_key_routes_need_a_session_the_csrf_token_and_our_origin() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    for (method, path, body) in key_routes() {
        // No session.
        let mut request = app
            .client
            .request(method.clone(), app.api(&format!("/inbox{path}")))
            .header("x-csrf-token", &ann.csrf);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

        // A foreign origin.
        let mut request = app
            .client
            .request(method.clone(), app.api(&format!("/inbox{path}")))
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

        // No CSRF token, or a forged one (reads need none).
        if method != Method::GET {
            for csrf in [None, Some("forged")] {
                let mut request = ann.request(method.clone(), path);
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
    }
    let list: ApiKeyList = ann.get("/api-keys").await.json().await.unwrap();
    assert!(list.keys.is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_key_name_must_be_1_to_100_characters() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    for name in ["", "   ", &"x".repeat(101), "a\u{7}b"] {
        let response = ann.post("/api-keys", json!({ "name": name })).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
    let response = ann.post("/api-keys", json!({})).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_json").await;
    create_key(&ann, &"x".repeat(100)).await;
}

#[tokio::test]
async fn unknown_malformed_and_missing_keys_get_the_same_401() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "CRM").await;
    let mut forged = created.secret.clone();
    forged.pop();
    forged.push(if created.secret.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for key in [forged.as_str(), "mwk_", "mwk_short", "not-a-key-at-all-000"] {
        assert_error(
            agent_list(&app, key).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    let missing = app
        .client
        .get(app.api("/agent/conversations"))
        .send()
        .await
        .unwrap();
    assert_error(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // A session cookie is no key either.
    let cookie = app
        .client
        .get(app.api("/agent/conversations"))
        .header("cookie", &ann.cookie)
        .send()
        .await
        .unwrap();
    assert_error(cookie, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn the_configured_key_still_works_and_keys_work_without_it() {
    let app = TestApp::spawn().await;
    assert_eq!(agent_list(&app, AGENT_KEY).await.status(), StatusCode::OK);

    let app = TestApp::spawn_with(|config| config.agent_api_key = None).await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "CRM").await;
    assert_eq!(
        agent_list(&app, &created.secret).await.status(),
        StatusCode::OK
    );
    assert_error(
        agent_list(&app, AGENT_KEY).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn the_last_use_is_written_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let ann = admin(&app).await;
    let created = create_key(&ann, "CRM").await;
    let db = app.database().await;
    // Pretend the key was last used 30 s ago: a use now does not move it.
    let recent = messenger_server::now_ms() - 30_000;
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(recent)
        .bind(&created.key.id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        agent_list(&app, &created.secret).await.status(),
        StatusCode::OK
    );
    let key = app.store.api_key(&created.key.id).await.unwrap().unwrap();
    assert_eq!(key.last_used_at, Some(recent));
    // Two minutes ago: it moves to now.
    let old = messenger_server::now_ms() - 120_000;
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(old)
        .bind(&created.key.id)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(
        agent_list(&app, &created.secret).await.status(),
        StatusCode::OK
    );
    let key = app.store.api_key(&created.key.id).await.unwrap().unwrap();
    assert!(key.last_used_at.unwrap() > old + 60_000);
}
