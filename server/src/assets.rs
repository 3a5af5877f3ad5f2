//! Serves the built widget from the assets folder (Trunk's `dist/`):
//!
//! - `/widget.js`: the loader that host pages embed. Its URL never changes,
//!   so it is cached briefly (5 minutes) and a deploy reaches every site soon.
//!   `/widget-frame.js` (the part of the loader needed only once the panel
//!   exists), when built, is served the same way.
//! - `/frame/?site=KEY`: the HTML page that runs the Leptos app inside the
//!   iframe; revalidated on every load, and sent with a strict
//!   Content-Security-Policy that admits only our own files, the inline
//!   bootstrap Trunk writes (by hash) and WebAssembly compilation, and whose
//!   `frame-ancestors` are that site's allowed origins (`*` when it lists
//!   none; 404 for an unknown key; the default site without `site`).
//! - `/frame/<name>-<hash>.<ext>`: the app's JS glue, wasm and CSS, whose
//!   names change with their content, cached for a year as immutable.
//! - `/inbox/` and `/inbox/<file>`: the agents' inbox (`dist/inbox/`), served
//!   the same way under the same policy, except that no site may frame it.
//!
//! Files are read from disk on each request, so a rebuilt widget is served
//! without restarting the server. Where the build left `FILE.br` / `FILE.gz`
//! beside a file (scripts/precompress.mjs: brotli 11, gzip -9), those are
//! sent to browsers that accept them, instead of compressing each response on
//! the fly at a lower level (the wasm: about 147 KB instead of 176 KB, and no
//! CPU spent per request).

use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::AppState;

const LOADER_CACHE: &str = "public, max-age=300";
const IMMUTABLE_CACHE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/widget.js", get(loader))
        .route("/widget-frame.js", get(loader_part))
        .route("/frame", get(|| async { Redirect::permanent("/frame/") }))
        .route("/frame/", get(frame_page))
        .route("/frame/{*file}", get(frame_file))
        .route("/inbox", get(|| async { Redirect::permanent("/inbox/") }))
        .route("/inbox/", get(inbox_page))
        .route("/inbox/{*file}", get(inbox_file))
}

async fn loader(State(state): State<AppState>, request: Request) -> Response {
    loader_file(&state, "widget.js", request).await
}

async fn loader_part(State(state): State<AppState>, request: Request) -> Response {
    loader_file(&state, "widget-frame.js", request).await
}

/// A file of the loader, briefly cached, loadable from any host page.
async fn loader_file(state: &AppState, name: &str, request: Request) -> Response {
    let mut response = serve_file(&state.assets.dir.join(name), request).await;
    if response.status().is_success() {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(LOADER_CACHE),
        );
        // Host pages that isolate themselves (COEP) may still load it.
        headers.insert(
            "cross-origin-resource-policy",
            HeaderValue::from_static("cross-origin"),
        );
    }
    response
}

#[derive(serde::Deserialize, Debug, Default)]
struct FrameParams {
    site: Option<String>,
}

async fn frame_page(State(state): State<AppState>, Query(params): Query<FrameParams>) -> Response {
    let key = params.site.as_deref().unwrap_or(crate::store::DEFAULT_SITE);
    let Some(site) = state.store.site_by_key(key) else {
        return (StatusCode::NOT_FOUND, "No site has this key.").into_response();
    };
    app_page(&state.assets.dir, &site.frame_ancestors()).await
}

async fn frame_file(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    request: Request,
) -> Response {
    if file == "index.html" {
        let params = Query::<FrameParams>::try_from_uri(request.uri())
            .map(|Query(p)| p)
            .unwrap_or_default();
        return frame_page(State(state), Query(params)).await;
    }
    app_file(&state.assets.dir, &file, request).await
}

/// The inbox is for agents on this origin only: no site may frame it.
const INBOX_ANCESTORS: &str = "'none'";

async fn inbox_page(State(state): State<AppState>) -> Response {
    app_page(&state.assets.dir.join("inbox"), INBOX_ANCESTORS).await
}

async fn inbox_file(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    request: Request,
) -> Response {
    if file == "index.html" {
        return inbox_page(State(state)).await;
    }
    app_file(&state.assets.dir.join("inbox"), &file, request).await
}

/// A Trunk-built app's page, from `dir`, under a strict policy.
async fn app_page(dir: &Path, frame_ancestors: &str) -> Response {
    let path = dir.join("index.html");
    let html = match tokio::fs::read_to_string(&path).await {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(path = %path.display(), error = %err, "app page missing: build the widget first");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The widget is not built. Run scripts/build-widget.sh.",
            )
                .into_response();
        }
    };
    let csp = frame_csp(&html, frame_ancestors);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CACHE_CONTROL, REVALIDATE.to_owned()),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
        ],
        html,
    )
        .into_response()
}

/// One of a Trunk-built app's files, from `dir`.
async fn app_file(dir: &Path, file: &str, request: Request) -> Response {
    let Some(relative) = safe_relative_path(file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = serve_file(&dir.join(relative), request).await;
    if response.status().is_success() {
        let cache = if is_content_hashed(file) {
            IMMUTABLE_CACHE
        } else {
            REVALIDATE
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    response
}

async fn serve_file(path: &Path, request: Request) -> Response {
    let file = ServeFile::new(path).precompressed_br().precompressed_gzip();
    match file.oneshot(request).await {
        Ok(mut response) => {
            if response.status().is_success() {
                // The body depends on Accept-Encoding (a precompressed file,
                // or the plain one that the compression layer may encode).
                response
                    .headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            response.map(Body::new)
        }
        Err(err) => match err {},
    }
}

/// A URL path made only of plain segments (no `..`, no hidden files).
fn safe_relative_path(file: &str) -> Option<PathBuf> {
    let path = Path::new(file);
    let plain = path.components().all(|c| match c {
        Component::Normal(s) => s.to_str().is_some_and(|s| !s.starts_with('.')),
        _ => false,
    });
    plain.then(|| path.to_path_buf())
}

/// Trunk names built files `<name>-<hex hash>[_bg].<ext>`.
fn is_content_hashed(file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The frame's policy: only our own origin, plus the inline scripts of the
/// built page itself, admitted by their hashes.
fn frame_csp(html: &str, frame_ancestors: &str) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| {
            format!(
                " 'sha256-{}'",
                STANDARD.encode(Sha256::digest(script.as_bytes()))
            )
        })
        .collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    )
}

/// The bodies of `<script>` elements without a `src` attribute.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.match_indices("<script").filter_map(move |(start, _)| {
        let rest = &html[start..];
        let open_end = rest.find('>')?;
        let open_tag = &rest[..open_end];
        if open_tag.contains(" src=") {
            return None;
        }
        let body = &rest[open_end + 1..];
        let close = body.find("</script>")?;
        Some(&body[..close])
    })
}

/// What the asset routes need to know, computed once at start (each
/// site's `frame-ancestors` come from the store's sites, as they stand).
pub struct Assets {
    pub dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_output_names_count_as_hashed() {
        assert!(is_content_hashed(
            "messenger-widget-1a2b3c4d5e6f7a8b_bg.wasm"
        ));
        assert!(is_content_hashed("messenger-widget-1a2b3c4d5e6f7a8b.js"));
        assert!(is_content_hashed("style-0123456789abcdef.css"));
        assert!(!is_content_hashed("widget.js"));
        assert!(!is_content_hashed("messenger-widget.js"));
    }

    #[test]
    fn paths_leaving_the_assets_folder_are_refused() {
        assert!(safe_relative_path("../secret").is_none());
        assert!(safe_relative_path("/etc/passwd").is_none());
        assert!(safe_relative_path(".env").is_none());
        assert!(safe_relative_path("snippets/x/inline0.js").is_some());
    }

    #[test]
    fn inline_scripts_are_admitted_by_hash_and_external_ones_not_listed() {
        let html = r#"<script type="module">import init from '/x.js';</script><script src="/y.js"></script>"#;
        let csp = frame_csp(html, "*");
        let expected = STANDARD.encode(Sha256::digest(b"import init from '/x.js';"));
        assert!(csp.contains(&format!("'sha256-{expected}'")));
        assert_eq!(csp.matches("'sha256-").count(), 1);
    }
}
