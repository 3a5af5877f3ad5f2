//! How the server serves the widget's files, and its cross-origin rules.

mod support;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};
use support::TestApp;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_loader_is_javascript_cached_briefly() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/widget.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, CONTENT_TYPE.as_str()).starts_with("text/javascript"));
    assert_eq!(
        header(&response, CACHE_CONTROL.as_str()),
        "public, max-age=300"
    );
}

#[tokio::test]
async fn hashed_frame_assets_are_cached_as_immutable_with_their_content_types() {
    let app = TestApp::spawn().await;
    let wasm = app
        .client
        .get(format!(
            "{}/frame/messenger-widget-0123456789abcdef_bg.wasm",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.status(), StatusCode::OK);
    assert_eq!(header(&wasm, CONTENT_TYPE.as_str()), "application/wasm");
    assert!(header(&wasm, CACHE_CONTROL.as_str()).contains("immutable"));

    let js = app
        .client
        .get(format!(
            "{}/frame/messenger-widget-0123456789abcdef.js",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert!(header(&js, CONTENT_TYPE.as_str()).contains("javascript"));
    assert!(header(&js, CACHE_CONTROL.as_str()).contains("max-age=31536000"));
}

#[tokio::test]
async fn the_frame_page_is_revalidated_and_locked_down_by_its_csp() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/frame/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, CONTENT_TYPE.as_str()).starts_with("text/html"));
    assert_eq!(header(&response, CACHE_CONTROL.as_str()), "no-cache");
    let csp = header(&response, "content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("'sha256-"),
        "the inline bootstrap is admitted by hash: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

#[tokio::test]
async fn the_frame_may_be_embedded_only_by_allowed_origins_when_they_are_configured() {
    let app = TestApp::spawn_with(|c| {
        c.allowed_origins = vec!["https://shop.example".parse().unwrap()];
    })
    .await;
    let response = app
        .client
        .get(format!("{}/frame/", app.url))
        .send()
        .await
        .unwrap();
    let csp = header(&response, "content-security-policy");
    assert!(
        csp.contains("frame-ancestors https://shop.example"),
        "{csp}"
    );
}

#[tokio::test]
async fn files_outside_the_assets_folder_are_not_served() {
    let app = TestApp::spawn().await;
    for path in [
        "/frame/../data/messenger.db",
        "/frame/%2e%2e/data/messenger.db",
        "/frame/nope.js",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn assets_are_compressed_with_brotli_or_gzip_as_the_client_accepts() {
    let app = TestApp::spawn().await;
    let url = format!(
        "{}/frame/messenger-widget-0123456789abcdef_bg.wasm",
        app.url
    );
    let br = app
        .client
        .get(&url)
        .header(ACCEPT_ENCODING, "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&br, CONTENT_ENCODING.as_str()), "br");
    let gzip = app
        .client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&gzip, CONTENT_ENCODING.as_str()), "gzip");
    let loader = app
        .client
        .get(format!("{}/widget.js", app.url))
        .header(ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&loader, CONTENT_ENCODING.as_str()), "br");
}

#[tokio::test]
async fn api_responses_are_never_cached() {
    let app = TestApp::spawn().await;
    let started = app.start_conversation().await;
    let response = app.read_raw(&started.token, "").await;
    assert_eq!(header(&response, CACHE_CONTROL.as_str()), "no-store");
}

#[tokio::test]
async fn without_allowed_origins_the_api_sends_no_cors_headers() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.api("/conversations"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn cors_is_only_on_the_widget_configuration_and_the_customer_api_has_none() {
    let app = TestApp::spawn_with(|c| {
        c.allowed_origins = vec!["https://shop.example".parse().unwrap()];
    })
    .await;
    // The customer API is called by the frame, on our own origin: no CORS,
    // not even for an allowed site.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.api("/conversations"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // The widget's configuration, which host pages read, answers any
    // origin (without credentials); the handler refuses unlisted ones.
    let config = app
        .client
        .get(app.api("/sites/default/widget"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), StatusCode::OK);
    assert_eq!(header(&config, "access-control-allow-origin"), "*");
    assert!(
        config
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}

#[tokio::test]
async fn the_inbox_is_served_under_its_own_strict_policy_and_may_not_be_framed() {
    let app = TestApp::spawn().await;
    let inbox = app.dir.path().join("dist/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("index.html"),
        "<!doctype html><html><head><script type=\"module\" src=\"/inbox/boot.js\"></script></head><body></body></html>",
    )
    .unwrap();
    std::fs::write(
        inbox.join("messenger-inbox-0123456789abcdef_bg.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .unwrap();

    let page = app
        .client
        .get(format!("{}/inbox/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header(&page, CONTENT_TYPE.as_str()).starts_with("text/html"));
    assert_eq!(header(&page, CACHE_CONTROL.as_str()), "no-cache");
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    let wasm = app
        .client
        .get(format!(
            "{}/inbox/messenger-inbox-0123456789abcdef_bg.wasm",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.status(), StatusCode::OK);
    assert!(header(&wasm, CACHE_CONTROL.as_str()).contains("immutable"));
}

#[tokio::test]
async fn precompressed_files_of_the_build_are_sent_as_they_are() {
    let app = TestApp::spawn().await;
    let dist = app.dir.path().join("dist");
    let name = "messenger-widget-0123456789abcdef_bg.wasm";
    // What scripts/precompress.mjs leaves beside a file (any bytes will do:
    // the server must send them untouched, not compress them again).
    std::fs::write(dist.join(format!("{name}.br")), b"precompressed brotli").unwrap();
    let url = format!("{}/frame/{name}", app.url);
    let response = app
        .client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_ENCODING.as_str()), "br");
    assert_eq!(header(&response, CONTENT_TYPE.as_str()), "application/wasm");
    assert!(header(&response, CACHE_CONTROL.as_str()).contains("immutable"));
    assert_eq!(header(&response, "vary"), "accept-encoding");
    let body = app
        .client
        .get(&url)
        .header(ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"precompressed brotli");

    // Without a precompressed file, the response is compressed on the fly.
    let gzip = app
        .client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&gzip, CONTENT_ENCODING.as_str()), "gzip");
}
