//! Values the robustness tests share: canary secrets, ids, the default token response and a
//! vault builder aimed at a stand-in backend.

use std::future::IntoFuture;
use std::time::Duration;

use alter::VaultBuilder;
use alter::protocol::api_key::checksum;
use serde_json::{Value, json};

use super::StandIn;

/// The credential endpoint.
pub const TOKEN_PATH: &str = "/sdk/token";

/// The audit endpoint.
pub const AUDIT_PATH: &str = "/sdk/oauth/audit/api-call";

/// The connect-session creation endpoint.
pub const CONNECT_CREATE_PATH: &str = "/sdk/oauth/connect/session";

/// The connect-session poll endpoint.
pub const CONNECT_POLL_PATH: &str = "/sdk/oauth/connect/session/poll";

/// The random part of [`api_key`], distinctive so that a search for it finds only leaks.
pub const API_KEY_RANDOM: &str = "leakcanaryapikeyzzzzzz";

/// The end user's bearer token.
pub const USER_TOKEN: &str = "eyJhbGciOiJub25lIn0.user-token-canary.c2ln";

/// The provider access token in [`token_response`].
pub const ACCESS_TOKEN: &str = "gho_accessTokenCanary0123456789";

/// An additional credential value, for tests that inject one.
pub const ADDITIONAL_CREDENTIAL: &str = "additional-credential-canary-42";

/// The grant id in [`token_response`].
pub const GRANT_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

/// The token generation in [`token_response`].
pub const TOKEN_GENERATION: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";

/// The provider id in [`token_response`].
pub const PROVIDER_ID: &str = "github";

/// How long [`bounded`] waits before it fails a test.
const GUARD: Duration = Duration::from_secs(60);

/// Returns a valid application API key, `alter_rk_<API_KEY_RANDOM>_<checksum>`.
pub fn api_key() -> String {
    format!(
        "alter_rk_{API_KEY_RANDOM}_{}",
        checksum("rk", API_KEY_RANDOM)
    )
}

/// Returns every canary secret: the API key, the user token, the provider access token and
/// the additional credential value.
pub fn secrets() -> [String; 4] {
    [
        api_key(),
        USER_TOKEN.to_owned(),
        ACCESS_TOKEN.to_owned(),
        ADDITIONAL_CREDENTIAL.to_owned(),
    ]
}

/// Returns a valid `/sdk/token` response for [`GRANT_ID`] with [`ACCESS_TOKEN`], injected as
/// `Authorization: Bearer <token>`.
pub fn token_response() -> Value {
    json!({
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scopes": ["repo"],
        "grant_id": GRANT_ID,
        "provider_id": PROVIDER_ID,
        "token_generation": TOKEN_GENERATION,
        "scope_mismatch": false,
    })
}

/// Returns [`token_response`] with `key` set to `value`, or removed when `value` is `None`.
///
/// # Panics
///
/// Never: [`token_response`] is a JSON object.
pub fn token_response_with(key: &str, value: Option<Value>) -> Value {
    let mut response = token_response();
    let object = response
        .as_object_mut()
        .expect("the token response is an object");
    match value {
        Some(value) => object.insert(key.to_owned(), value),
        None => object.remove(key),
    };
    response
}

/// Returns the path of the scope-mismatch report for [`GRANT_ID`].
pub fn scope_report_path() -> String {
    format!("/sdk/grants/{GRANT_ID}/report-scope-mismatch")
}

/// Starts a vault builder with [`api_key`] and `backend` as the base URL.
pub fn vault_builder(backend: &StandIn) -> VaultBuilder {
    alter::Vault::builder(api_key())
        .base_url(backend.url())
        .caller("robustness-tests")
}

/// Awaits `future`, failing the test when it has not finished after 60 seconds, so that a hang
/// fails the test instead of stalling the run.
///
/// # Panics
///
/// Panics when `future` does not finish in time.
pub async fn bounded<F: IntoFuture>(future: F) -> F::Output {
    tokio::time::timeout(GUARD, future)
        .await
        .expect("the call did not return within 60 seconds")
}
