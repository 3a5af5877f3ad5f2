//! A demo host page on its own address, so the widget is seen embedded
//! cross-origin exactly as on a customer's site, under a strict
//! Content-Security-Policy (no inline script or style, no wasm on the host).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const PAGE: &str = include_str!("demo/index.html");
const STYLE: &str = include_str!("demo/demo.css");

/// The demo site's router; `api_origin` is where the widget is served from.
pub fn router(api_origin: &str) -> Router {
    let page = PAGE.replace("{{API_ORIGIN}}", api_origin);
    let csp = format!(
        "default-src 'none'; script-src {api_origin}; frame-src {api_origin}; \
         style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
    );
    Router::new()
        .route(
            "/",
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                        (header::CONTENT_SECURITY_POLICY, csp),
                    ],
                    page,
                )
            }),
        )
        // Browsers ask for it on their own; answer without a 404 in the console.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/demo.css",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
            }),
        )
}
