//! The unsubscribe links of every email: `GET /email/unsubscribe?code=…`
//! shows a page with a button (a GET changes nothing, so mail scanners that
//! follow links unsubscribe nobody); the button, or a mail client's one-click
//! unsubscribe (RFC 8058: `POST` with `List-Unsubscribe=One-Click`), posts
//! to the same URL. The code only ever unsubscribes; it is stored hashed.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::mail::escape_html;
use crate::{AppState, ids};

pub fn router() -> Router<AppState> {
    Router::new().route("/email/unsubscribe", get(confirm).post(unsubscribe))
}

#[derive(Deserialize)]
struct CodeParam {
    #[serde(default)]
    code: String,
}

async fn confirm(Query(params): Query<CodeParam>) -> Response {
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Stop emails about replies to your conversations?</p>\
             <form method=\"post\" action=\"?code={}\">\
             <button type=\"submit\">Unsubscribe</button></form>",
            escape_html(&params.code)
        ),
    )
}

async fn unsubscribe(State(state): State<AppState>, Query(params): Query<CodeParam>) -> Response {
    let known = !params.code.is_empty()
        && state
            .store
            .unsubscribe(&ids::hash_secret(params.code.trim()), state.now_ms())
            .await
            .unwrap_or(false);
    if known {
        page(
            StatusCode::OK,
            "Unsubscribed",
            "<p>You are unsubscribed: we will not email you about replies any more.</p>\
             <p>Leaving your email in the chat again subscribes you again.</p>",
        )
    } else {
        page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This unsubscribe link is not valid. Copy the whole link from the email.</p>",
        )
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut response = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
        )),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
