//! An in-process transport with fixed responses: a token response for `POST /sdk/token`, `204`
//! for the audit endpoint, and a small JSON document for every provider request.

use std::sync::Arc;
use std::time::Duration;

use alter::vault::transport::{HttpTransport, SendFuture};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};

/// The API key of the canned backend. It is well formed but grants nothing anywhere.
pub const API_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";

/// The provider URL the bench requests.
pub const PROVIDER_URL: &str = "https://api.demo.example/me";

const TOKEN_RESPONSE: &str = r#"{"access_token":"bench-access-token","token_type":"Bearer","expires_in":3599,"scopes":["profile"],"grant_id":"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f","provider_id":"demo","token_generation":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a","injection_header":"Authorization","injection_format":"Bearer {token}"}"#;

const PROVIDER_RESPONSE: &str = r#"{"user":"bench-user","scopes":["profile"]}"#;

/// Responds to every request from memory, without sockets.
#[derive(Debug, Default)]
pub struct CannedTransport;

impl CannedTransport {
    /// Returns the transport, ready for [`alter::VaultBuilder::transport`].
    pub fn shared() -> Arc<dyn HttpTransport> {
        Arc::new(Self)
    }
}

impl HttpTransport for CannedTransport {
    fn send(&self, request: http::Request<Bytes>, _timeout: Duration) -> SendFuture<'_> {
        let (status, body) = match request.uri().path() {
            "/sdk/token" => (200, TOKEN_RESPONSE),
            path if path.starts_with("/sdk/") => (204, ""),
            _ => (200, PROVIDER_RESPONSE),
        };
        Box::pin(async move {
            let mut response = http::Response::new(Bytes::from_static(body.as_bytes()));
            *response.status_mut() =
                http::StatusCode::from_u16(status).expect("the canned status codes are valid");
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            Ok(response)
        })
    }
}

/// Builds a vault whose every request goes to a [`CannedTransport`].
///
/// # Errors
///
/// Returns the builder's error; it has none with these fixed settings.
pub fn canned_vault() -> Result<alter::Vault, alter::Error> {
    alter::Vault::builder(API_KEY)
        .caller("bench")
        .base_url("https://backend.alterauth.com")
        .transport(CannedTransport::shared())
        .build()
}
