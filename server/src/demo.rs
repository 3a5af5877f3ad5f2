//! A demo host page on its own address, so the widget is seen embedded
//! cross-origin exactly as on a customer's site, under the strict
//! Content-Security-Policy the README asks site owners to allow (no inline
//! script or style, no wasm on the host): the loader is a script from the
//! server, fetches the site's configuration from it, and frames its panel.

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
        "default-src 'self'; script-src 'self' {api_origin}; frame-src {api_origin}; \
         connect-src 'self' {api_origin}; style-src 'self' {api_origin}; \
         img-src 'self' {api_origin} data:; base-uri 'none'; form-action 'none'"
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
