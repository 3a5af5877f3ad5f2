//! What the widget and the inbox share in the browser: sending an API
//! request and turning a failed answer into a typed [`ApiError`] (the
//! server's JSON error body), and reading a streamed Server-Sent Events body
//! ([`EventStream`]). Each app words errors for its own readers.

use gloo_net::http::{Request, Response};
use messenger_wire::sse;
use messenger_wire::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

/// Why a call failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ApiError {
    /// No answer: offline, connection refused, aborted.
    Network,
    /// The server answered with an error status.
    Status {
        status: u16,
        code: ErrorCode,
        /// The server's explanation, meant for people.
        message: String,
    },
    /// The answer was not what this version understands.
    Decode,
}

impl ApiError {
    /// The credential is unknown to the server (or was never valid).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Status { status: 401, .. })
    }
}

/// Sends a request; its 2xx answer, or the error it stands for.
pub async fn successful(request: Result<Request, gloo_net::Error>) -> Result<Response, ApiError> {
    let response = request
        .map_err(|_| ApiError::Network)?
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    Err(match response.json::<ErrorBody>().await {
        Ok(body) => ApiError::Status {
            status,
            code: body.error.code,
            message: body.error.message,
        },
        // A proxy's HTML error page, say.
        Err(_) => ApiError::Status {
            status,
            code: ErrorCode::Unknown,
            message: String::new(),
        },
    })
}

/// Sends a request whose answer is JSON.
pub async fn json<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, ApiError> {
    // Sending and reading are the same for every answer type: one copy of
    // that future (boxed, behind `dyn`, so that it is not compiled again into
    // each type's), and only the decoding below is generic. Each type used
    // to carry a few kilobytes of its own copy in the panel's download.
    let text: Pin<Box<dyn Future<Output = Result<String, ApiError>>>> = Box::pin(text(request));
    serde_json::from_str(&text.await?).map_err(|_| ApiError::Decode)
}

/// Sends a request; the text of its 2xx answer.
async fn text(request: Result<Request, gloo_net::Error>) -> Result<String, ApiError> {
    let response = successful(request).await?;
    response.text().await.map_err(|_| ApiError::Decode)
}

/// Sends a request whose answer has no body worth reading.
pub async fn no_content(request: Result<Request, gloo_net::Error>) -> Result<(), ApiError> {
    let response = successful(request).await?;
    // Read to the end, so the connection is free for the next request.
    _ = response.binary().await;
    Ok(())
}

/// An open `text/event-stream` answer, read chunk by chunk.
pub struct EventStream {
    reader: ReadableStreamDefaultReader,
    parser: sse::Parser,
}

impl EventStream {
    /// Sends the request; the stream of its 2xx answer.
    pub async fn open(request: Result<Request, gloo_net::Error>) -> Result<Self, ApiError> {
        let response = successful(request).await?;
        let reader = response.body().ok_or(ApiError::Decode)?.get_reader();
        Ok(EventStream {
            reader: reader.unchecked_into(),
            parser: sse::Parser::default(),
        })
    }

    /// The events the next chunk completes, oldest first (often none: a
    /// keep-alive comment); `None` once the server has ended the stream. An
    /// error means the connection broke (or was aborted).
    pub async fn next(&mut self) -> Result<Option<Vec<sse::Event>>, ApiError> {
        let chunk = JsFuture::from(self.reader.read())
            .await
            .map_err(|_| ApiError::Network)?;
        let field = |name: &str| js_sys::Reflect::get(&chunk, &name.into());
        if field("done").map_or(true, |done| done.is_truthy()) {
            return Ok(None);
        }
        let bytes: js_sys::Uint8Array = field("value")
            .ok()
            .and_then(|value| value.dyn_into().ok())
            .ok_or(ApiError::Decode)?;
        Ok(Some(self.parser.push(&bytes.to_vec())))
    }
}
