//! Every HTTP call of the inbox. Requests go to the server's own origin with
//! the session cookie (`credentials: same-origin`); every state-changing one
//! carries the session's CSRF token in `X-CSRF-Token`.

use gloo_net::http::{Request, RequestBuilder, Response};
use messenger_wire::{API_PREFIX, ErrorBody, ErrorCode, InboxSession, Login};
use serde::de::DeserializeOwned;
use web_sys::{RequestCache, RequestCredentials};

/// Why a call failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ApiError {
    /// No answer: offline, or the server is down.
    Network,
    /// The server answered with an error.
    Status {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// An answer this version does not understand.
    Decode,
}

impl ApiError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Status { status: 401, .. })
    }

    /// What to tell the agent.
    pub fn message(&self) -> String {
        match self {
            ApiError::Network => {
                "The server cannot be reached. Check the connection and try again.".to_owned()
            }
            ApiError::Status {
                code: ErrorCode::InvalidCredentials,
                ..
            } => "Wrong email or password.".to_owned(),
            ApiError::Status {
                code: ErrorCode::TooManyRequests,
                ..
            } => "Too many attempts. Wait a few minutes, then try again.".to_owned(),
            ApiError::Status { message, .. } if !message.is_empty() => {
                let mut text = message.clone();
                if let Some(first) = text.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("{text}.")
            }
            _ => "Something went wrong. Try again.".to_owned(),
        }
    }
}

fn url(path: &str) -> String {
    format!("{API_PREFIX}/inbox{path}")
}

fn same_origin(request: RequestBuilder) -> RequestBuilder {
    request
        .credentials(RequestCredentials::SameOrigin)
        .cache(RequestCache::NoStore)
}

/// The signed-in agent, if the session cookie is valid.
pub async fn session() -> Result<InboxSession, ApiError> {
    json(same_origin(Request::get(&url("/session"))).build()).await
}

pub async fn sign_in(email: &str, password: &str) -> Result<InboxSession, ApiError> {
    let body = Login {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    json(same_origin(Request::post(&url("/session"))).json(&body)).await
}

pub async fn sign_out(csrf_token: &str) -> Result<(), ApiError> {
    let request = same_origin(Request::delete(&url("/session")))
        .header("X-CSRF-Token", csrf_token)
        .build();
    successful(request).await.map(drop)
}

async fn json<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, ApiError> {
    let response = successful(request).await?;
    response.json().await.map_err(|_| ApiError::Decode)
}

/// Sends a request; a 2xx answer, or the error it stands for.
async fn successful(request: Result<Request, gloo_net::Error>) -> Result<Response, ApiError> {
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
        Err(_) => ApiError::Status {
            status,
            code: ErrorCode::Unknown,
            message: String::new(),
        },
    })
}
