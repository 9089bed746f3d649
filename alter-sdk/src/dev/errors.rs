//! JSON error responses in the backend's shape: `{"error": code, "message": text, …}`.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::wire::code;

/// An error response of a signed endpoint, or of any JSON endpoint DevVault serves.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    body: Map<String, Value>,
    retry_after: Option<u64>,
    /// Sends the body inside a `{"detail": …}` envelope, as the backend's FastAPI handlers do
    /// for some errors.
    in_detail: bool,
}

impl ApiError {
    /// Creates an error with its status, `error` code and `message`.
    pub(super) fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(error));
        body.insert("message".into(), Value::String(message.into()));
        Self {
            status,
            body,
            retry_after: None,
            in_detail: false,
        }
    }

    /// Adds a field to the body.
    pub(super) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.into(), value.into());
        self
    }

    /// Adds a `Retry-After` header, in seconds.
    pub(super) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Sends the body as `{"detail": body}`.
    pub(super) fn in_detail(mut self) -> Self {
        self.in_detail = true;
        self
    }

    /// 400 `invalid_request`.
    pub(super) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_REQUEST, message)
    }

    /// 401 with a signature-check code.
    pub(super) fn unauthorized(error: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, error, message)
    }

    /// 401 `jwt_validation_error`.
    pub(super) fn user_token_rejected(message: impl Into<String>) -> Self {
        Self::unauthorized(code::JWT_VALIDATION_ERROR, message)
    }

    /// 404 `not_found` for a path no route serves.
    pub(super) fn route_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            format!("no endpoint at {path}"),
        )
    }

    /// Converts a failure to read the request body into a protocol error: 413 when it exceeds
    /// the body limit, 400 otherwise.
    pub(super) fn unreadable_body(rejection: &BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::PAYLOAD_TOO_LARGE,
                "the request body is too large",
            )
        } else {
            Self::invalid_request(format!("the request body could not be read: {rejection}"))
        }
    }

    /// Returns the HTTP status.
    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    /// Returns the `message`.
    pub(super) fn message(&self) -> &str {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Returns the `error` code.
    pub(super) fn code(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.in_detail {
            serde_json::json!({ "detail": self.body })
        } else {
            Value::Object(self.body)
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
