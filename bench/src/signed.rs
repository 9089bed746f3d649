//! Signed `POST /sdk/token` requests, built with the SDK's public signing code, so that the
//! backend round trip can be timed without the rest of the SDK.

use std::time::{SystemTime, UNIX_EPOCH};

use alter::protocol::json::to_ascii_vec;
use alter::protocol::signing::{
    CONTENT_SHA256_HEADER, NONCE_HEADER, RequestToSign, SIGNATURE_HEADER, SigningKey,
    TIMESTAMP_HEADER, new_nonce,
};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Uri};
use http_body_util::Full;
use serde_json::json;

use crate::load::RequestSource;

const TOKEN_PATH: &str = "/sdk/token";

/// Builds signed credential requests for one provider URL, one user token per connection.
pub struct TokenRequests {
    uri: Uri,
    api_key: HeaderValue,
    signing_key: SigningKey,
    provider: String,
    provider_url: String,
    user_tokens: Vec<String>,
}

impl std::fmt::Debug for TokenRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequests")
            .field("uri", &self.uri)
            .field("provider", &self.provider)
            .field("provider_url", &self.provider_url)
            .field("user_tokens", &self.user_tokens.len())
            .finish_non_exhaustive()
    }
}

impl TokenRequests {
    /// Prepares requests to `backend_url` (e.g. `http://127.0.0.1:8787`) for `provider` and
    /// `provider_url`.
    ///
    /// # Errors
    ///
    /// Returns a message when the backend URL, the API key or the token list is invalid.
    pub fn new(
        backend_url: &str,
        api_key: &str,
        provider: &str,
        provider_url: &str,
        user_tokens: Vec<String>,
    ) -> Result<Self, String> {
        if user_tokens.is_empty() {
            return Err("the user token list is empty; run `alter-bench setup` first".into());
        }
        let uri = format!("{}{TOKEN_PATH}", backend_url.trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("invalid backend URL `{backend_url}`: {e}"))?;
        let mut api_key_value = HeaderValue::from_str(api_key)
            .map_err(|_| "the API key is not a valid header value".to_owned())?;
        api_key_value.set_sensitive(true);
        Ok(Self {
            uri,
            api_key: api_key_value,
            signing_key: SigningKey::derive(api_key),
            provider: provider.to_owned(),
            provider_url: provider_url.to_owned(),
            user_tokens,
        })
    }

    /// Builds one signed request for the user of `user_token`.
    pub fn request(&self, user_token: &str) -> http::Request<Bytes> {
        let body = json!({
            "provider_id": self.provider,
            "reason": "benchmark",
            "request": { "method": "GET", "url": self.provider_url },
            "user_token": user_token,
        });
        let body = to_ascii_vec(&body).expect("a JSON value always encodes");
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let nonce = new_nonce();
        let signature = self.signing_key.sign_request(&RequestToSign {
            method: "POST",
            path_and_query: TOKEN_PATH,
            body: &body,
            timestamp,
            nonce: &nonce,
            scope_constraints: "",
            request_rule: "",
            identity: Default::default(),
        });

        let mut request = http::Request::new(Bytes::from(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert("x-api-key", self.api_key.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            (TIMESTAMP_HEADER, signature.timestamp),
            (NONCE_HEADER, signature.nonce),
            (CONTENT_SHA256_HEADER, signature.content_sha256),
            (SIGNATURE_HEADER, signature.signature),
        ] {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("protocol header names");
            let value = HeaderValue::try_from(value).expect("hex and digits are header values");
            headers.insert(name, value);
        }
        request
    }
}

impl RequestSource for TokenRequests {
    fn next_request(&self, connection: usize) -> http::Request<Full<Bytes>> {
        let token = &self.user_tokens[connection % self.user_tokens.len()];
        self.request(token).map(Full::new)
    }
}
