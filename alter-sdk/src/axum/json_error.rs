//! The JSON error body every response of this module uses: `{"error": …, "message": …}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// `WWW-Authenticate` for a request without credentials.
pub(crate) const CHALLENGE: HeaderValue = HeaderValue::from_static("Bearer");
/// `WWW-Authenticate` for a malformed `Authorization` header.
pub(crate) const CHALLENGE_INVALID_REQUEST: HeaderValue =
    HeaderValue::from_static(r#"Bearer error="invalid_request""#);
/// `WWW-Authenticate` for a token the backend rejected.
pub(crate) const CHALLENGE_INVALID_TOKEN: HeaderValue =
    HeaderValue::from_static(r#"Bearer error="invalid_token""#);
/// `WWW-Authenticate` for a user who must sign in again because a policy requires a recent
/// sign-in (RFC 9470).
pub(crate) const CHALLENGE_STEP_UP: &str = r#"Bearer error="insufficient_user_authentication""#;

/// An error response under construction.
#[derive(Debug)]
pub(crate) struct JsonError {
    pub(crate) status: StatusCode,
    code: String,
    message: String,
    fields: Map<String, Value>,
    challenge: Option<HeaderValue>,
    retry_after_secs: Option<u64>,
}

impl JsonError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            fields: Map::new(),
            challenge: None,
            retry_after_secs: None,
        }
    }

    /// Adds a `WWW-Authenticate` header.
    pub(crate) fn challenge(mut self, challenge: HeaderValue) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// Adds a `Retry-After` header in whole seconds.
    pub(crate) fn retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after_secs = seconds;
        self
    }

    /// Adds a field to the body, after `error` and `message`.
    pub(crate) fn field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// Returns the body's `error` code.
    pub(crate) fn code(&self) -> &str {
        &self.code
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message));
        body.extend(self.fields);

        let mut response = (self.status, Json(Value::Object(body))).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
