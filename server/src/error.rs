//! The one error type of the HTTP layer. Every failure becomes a JSON body
//! `{"error": {"code", "message"}}` with a stable code from
//! [`messenger_wire::ErrorCode`]; internal details are logged, never sent.

use std::borrow::Cow;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messenger_wire::{ErrorBody, ErrorCode, ErrorDetail};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// Seconds for a `Retry-After` header (with 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// Too many attempts; the client may try again after `retry_after_ms`.
    pub fn too_many_requests(retry_after_ms: i64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyRequests,
            "too many attempts; try again later",
        );
        error.retry_after = Some((retry_after_ms.max(0) as u64).div_ceil(1000).max(1));
        error
    }

    /// The same answer for a missing, malformed or unknown credential, so a
    /// caller learns nothing about which conversations exist.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or invalid credentials",
        )
    }

    pub fn not_found(what: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, what)
    }

    pub fn invalid_query(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidQuery, message)
    }

    /// Maps a validation failure of the shared wire rules to its response.
    pub fn invalid_input(code: ErrorCode) -> Self {
        match code {
            ErrorCode::MessageEmpty => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "the message is empty",
            ),
            ErrorCode::MessageTooLong => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                format!(
                    "the message is longer than {} characters",
                    messenger_wire::MAX_MESSAGE_CHARS
                ),
            ),
            ErrorCode::InvalidClientId => Self::new(
                StatusCode::BAD_REQUEST,
                code,
                format!(
                    "client_id must be 1 to {} characters of A-Z, a-z, 0-9, '-' and '_'",
                    messenger_wire::MAX_CLIENT_ID_LEN
                ),
            ),
            ErrorCode::InvalidInput => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidInput,
                "the message holds a NUL character",
            ),
            other => Self::new(StatusCode::BAD_REQUEST, other, "invalid input"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.into_owned(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        let busy = match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
            _ => false,
        };
        tracing::error!(error = %err, "database error");
        if busy {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "the server is busy; retry shortly",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "internal error",
            )
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "expected Content-Type: application/json",
            ),
            r if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "the request body is too large",
            ),
            // Serde's own description ("missing field `body` at line 1 ...")
            // helps API users and reveals nothing about the server.
            r => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidJson,
                r.body_text(),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid_query(rejection.body_text())
    }
}
