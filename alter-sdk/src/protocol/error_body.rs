//! Mapping of backend error answers to [`Error`].

use crate::error::{BackendError, Error, GrantError};

/// Maps a backend answer with status 400 or above to its typed error.
pub fn map_error_response(status: u16, _headers: &http::HeaderMap, body: &[u8]) -> Error {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = value
        .get("error")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let message = value
        .get("message")
        .and_then(|v| v.as_str())
        .unwrap_or("backend error")
        .to_owned();
    let backend = BackendError::new(status, code, message);
    match status {
        404 => Error::GrantNotFound(GrantError::from_backend(backend)),
        _ => Error::Backend(backend),
    }
}
