//! The provider's response to a credential request.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// A provider response with its body fully read.
///
/// Bodies are read before the call returns because the audit row records them. Responses with
/// an error status never reach the caller as a `Response`: they become [`Error::Provider`] or
/// one of the more specific errors.
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// Returns the HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Returns the response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Returns the body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// Consumes the response and returns its body.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// Returns the body as text.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Decode`] when the body is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::Decode(format!("the provider response is not UTF-8 text: {e}")))
    }

    /// Deserializes the body as JSON.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Decode`] when the body is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Decode(format!(
                "the provider response is not the expected JSON: {e}"
            ))
        })
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}
