//! OAuth error responses: `{"error", "error_description"}` as RFC 6749 (section 5.2) and
//! RFC 7591 (section 3.2.2) define them.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, PRAGMA};
use http::{HeaderValue, StatusCode};
use serde_json::json;

/// An OAuth error, answered as JSON with `Cache-Control: no-store`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OAuthError {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// The error code, e.g. `invalid_grant`.
    pub(crate) code: &'static str,
    /// The description for the client's developer; never a secret.
    pub(crate) description: String,
}

impl OAuthError {
    /// Builds an error with status 400.
    pub(crate) fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    /// Builds an error with any status.
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        no_store(&mut response);
        response
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`, which responses carrying tokens and
/// their errors need (RFC 6749, section 5.1).
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The most characters of a client-sent value that an error description repeats.
const MAX_ECHOED_CHARS: usize = 100;

/// Returns `value` for an error description, cut to its first 100 characters followed by `…`
/// when longer, so that a huge value does not come back in full.
pub(crate) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(MAX_ECHOED_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}
