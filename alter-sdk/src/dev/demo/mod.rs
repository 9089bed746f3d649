//! The built-in demo provider `demo`: an OAuth 2.0 authorization server and a small JSON API,
//! served by DevVault itself so that connect flows run end to end without any account.
//!
//! DevVault treats it like any configured provider and reaches it over HTTP. Its scopes are
//! `messages.read` (requested by default) and `messages.write` (request it with
//! `required_scopes: {"demo": ["messages.write"]}`). The account a grant belongs to is the
//! DevVault user name, sent as `login_hint` and editable on the consent page.
//!
//! ```text
//! GET  /demo/oauth/authorize   consent page, or an immediate redirect with auto-approve
//! POST /demo/oauth/authorize   the consent page's Approve / Deny form
//! POST /demo/oauth/token       authorization_code (PKCE S256 required) and refresh_token
//! GET  /demo/api/me            {"user", "scopes"}; any valid token
//! GET  /demo/api/messages      {"messages": […]}; needs messages.read
//! POST /demo/api/messages      {"text"} → 201 the message; needs messages.write
//! ```

pub(super) mod api;
pub(super) mod oauth;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::clock::unix_now;
use super::provider::ProviderConfig;
use super::secret::Secret;

/// Provider id of the demo provider.
pub(super) const PROVIDER_ID: &str = "demo";
/// Authorization endpoint.
pub(super) const AUTHORIZE_PATH: &str = "/demo/oauth/authorize";
/// Token endpoint.
pub(super) const TOKEN_PATH: &str = "/demo/oauth/token";
/// Base path of the JSON API.
pub(super) const API_PATH: &str = "/demo/api";
/// The only client registered with the demo provider: DevVault itself.
const CLIENT_ID: &str = "devvault";
/// Scopes the demo provider supports, with the text the consent page shows.
const SCOPES: &[(&str, &str)] = &[
    ("messages.read", "Read your messages"),
    ("messages.write", "Post messages as you"),
];
/// Scopes granted when an authorization request names none.
const DEFAULT_SCOPES: &[&str] = &["messages.read"];
/// Account used when the authorization request carries no usable `login_hint`.
const DEFAULT_ACCOUNT: &str = "demo-user";
/// Lifetime of a consent page before it must be reloaded.
const CONSENT_LIFETIME_SECS: u64 = 600;
/// Retention of expired access tokens, so the API can report "expired" rather than "unknown".
const EXPIRED_TOKEN_RETENTION_SECS: u64 = 3600;
/// Messages kept per account; the oldest are dropped first.
const MAX_MESSAGES_PER_ACCOUNT: usize = 1_000;

/// The demo provider's configuration and state.
#[derive(Debug)]
pub(super) struct DemoProvider {
    client_secret: Secret,
    redirect_uri: String,
    token_lifetime: Duration,
    auto_approve: bool,
    state: Mutex<DemoState>,
}

#[derive(Debug, Default)]
struct DemoState {
    /// Consent requests shown and not yet decided, by consent id.
    consents: HashMap<String, ConsentRequest>,
    /// Authorization codes, by code.
    codes: HashMap<String, IssuedCode>,
    /// Access tokens, by token.
    access_tokens: HashMap<String, AccessGrant>,
    /// Refresh tokens, by token.
    refresh_tokens: HashMap<String, Authorization>,
    /// Messages, by account.
    messages: HashMap<String, Vec<Message>>,
    next_message_id: u64,
}

/// An account and the scopes the user authorized for it.
#[derive(Clone, Debug)]
struct Authorization {
    account: String,
    scopes: Vec<String>,
}

#[derive(Clone, Debug)]
struct ConsentRequest {
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    scopes: Vec<String>,
    account: String,
    expires_at: u64,
}

#[derive(Debug)]
struct IssuedCode {
    redirect_uri: String,
    code_challenge: String,
    authorization: Authorization,
    expires_at: u64,
}

#[derive(Debug)]
struct AccessGrant {
    authorization: Authorization,
    expires_at: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
struct Message {
    id: u64,
    from: String,
    text: String,
    created_at: String,
}

/// A freshly issued access and refresh token pair.
struct IssuedTokens {
    access_token: Secret,
    refresh_token: Secret,
    expires_in: u64,
    scopes: Vec<String>,
}

impl DemoProvider {
    /// Creates the demo provider for a DevVault served at `base_url`.
    pub(super) fn new(base_url: &str, token_lifetime: Duration, auto_approve: bool) -> Self {
        Self {
            client_secret: Secret::random("demo_cs_"),
            redirect_uri: format!("{base_url}{}", super::connect::CALLBACK_PATH),
            token_lifetime,
            auto_approve,
            state: Mutex::default(),
        }
    }

    /// Returns the provider configuration DevVault uses to connect to the demo provider.
    pub(super) fn config(&self, base_url: &str) -> ProviderConfig {
        ProviderConfig::new(
            PROVIDER_ID,
            format!("{base_url}{AUTHORIZE_PATH}"),
            format!("{base_url}{TOKEN_PATH}"),
            CLIENT_ID,
        )
        .display_name("Demo provider")
        .client_secret(self.client_secret.expose())
        .scopes(DEFAULT_SCOPES.iter().copied())
        .userinfo(format!("{base_url}{API_PATH}/me"), "user")
        .login_hint()
    }

    /// Makes `access_token` expire now, as if its lifetime had passed.
    pub(super) fn expire_access_token(&self, access_token: &str) {
        if let Some(grant) = self.lock().access_tokens.get_mut(access_token) {
            grant.expires_at = unix_now().saturating_sub(1);
        }
    }

    /// Revokes an access token and a refresh token, as a user does who disconnects the app at
    /// the provider.
    pub(super) fn revoke(&self, access_token: &str, refresh_token: Option<&str>) {
        let mut state = self.lock();
        state.access_tokens.remove(access_token);
        if let Some(refresh_token) = refresh_token {
            state.refresh_tokens.remove(refresh_token);
        }
    }

    fn lock(&self) -> MutexGuard<'_, DemoState> {
        self.state.lock().expect("demo provider lock poisoned")
    }

    /// Issues an access and refresh token pair for `authorization`.
    fn issue_tokens(&self, state: &mut DemoState, authorization: Authorization) -> IssuedTokens {
        let now = unix_now();
        state
            .access_tokens
            .retain(|_, grant| grant.expires_at + EXPIRED_TOKEN_RETENTION_SECS > now);
        let access_token = Secret::random("demo_at_");
        let refresh_token = Secret::random("demo_rt_");
        let expires_in = self.token_lifetime.as_secs();
        state.access_tokens.insert(
            access_token.expose().to_owned(),
            AccessGrant {
                authorization: authorization.clone(),
                expires_at: now + expires_in,
            },
        );
        state
            .refresh_tokens
            .insert(refresh_token.expose().to_owned(), authorization.clone());
        IssuedTokens {
            access_token,
            refresh_token,
            expires_in,
            scopes: authorization.scopes,
        }
    }
}

/// Returns the first scope the demo provider does not support.
fn unknown_scope(scopes: &[String]) -> Option<&str> {
    scopes
        .iter()
        .find(|scope| !SCOPES.iter().any(|(known, _)| known == scope))
        .map(String::as_str)
}

/// Returns the consent page description of `scope`.
fn describe_scope(scope: &str) -> &'static str {
    SCOPES
        .iter()
        .find(|(known, _)| *known == scope)
        .map_or("", |(_, description)| description)
}
