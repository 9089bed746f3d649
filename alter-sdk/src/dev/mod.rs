//! DevVault: a local, in-memory backend that speaks the Alter protocol.
//!
//! DevVault runs the SDK on a laptop without an account, and serves as the test double in an
//! application's own tests. It is a real HTTP server, so any implementation of the protocol,
//! in any language, can talk to it:
//!
//! - every `/sdk/*` request must carry an API key DevVault minted and a valid HMAC signature
//!   (timestamp within five minutes, fresh nonce, content hash of the exact body);
//! - a dev identity provider issues HS256 user tokens (`POST /dev/users/{name}/token`);
//! - connect sessions run a real OAuth 2.0 authorization-code flow with PKCE through a hosted
//!   connect page, against the built-in demo provider or any [`ProviderConfig`];
//! - `POST /sdk/token` resolves the user's grant and refreshes expired provider tokens at the
//!   provider's token endpoint;
//! - sign-in sessions (`/sdk/auth/*`) sign a user in through a hosted page and hand the app the
//!   user's token, as an MCP authorization server needs;
//! - `POST /sdk/proxy` calls the provider itself and records the audit row, optionally after
//!   an approval that a test grants, denies or lets expire;
//! - audit rows are stored and readable with [`DevVault::audit_log`], and scope-mismatch
//!   reports with [`DevVault::scope_mismatch_reports`]; a reported grant's token responses
//!   carry `scope_mismatch: true` until the user authorizes it again;
//! - errors use the backend's status codes and `{"error", "message", …}` bodies;
//! - tests can switch on the responses the backend gives under load: rate limiting per API key
//!   ([`RateLimitPolicy`]) and `token_refresh_in_progress` conflicts
//!   ([`DevVault::set_token_refresh_conflicts`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use alter::{Method, Vault};
//!
//! let dev = alter::dev::DevVault::builder().auto_approve(true).start().await?;
//! let vault = Vault::builder(dev.api_key().expose_secret())
//!     .base_url(dev.base_url())
//!     .build()?;
//! let alice = vault.with_user_token(dev.user_token("alice"));
//!
//! // With auto-approve, fetching the connect URL completes the whole OAuth flow.
//! let session = alice.create_connect_session().send().await?;
//! reqwest::get(&session.connect_url).await?;
//! alice.wait_for_connect_session(session.session_token).await?;
//!
//! let me = alice
//!     .request(Method::GET, format!("{}/me", dev.demo_api_url()))
//!     .provider("demo")
//!     .send()
//!     .await?;
//! assert_eq!(me.json::<serde_json::Value>()?["user"], "alice");
//! dev.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Limitations
//!
//! State lives in memory and is lost on shutdown; keys and user tokens of one instance are
//! rejected by the next. Managed agents and delegation are not implemented, so requests
//! that need them get 404 or 400. The sign-in page asks only for a
//! user name: there are no passwords.
//! `X-Alter-Scope-Constraints` and `X-Alter-Request-Rule` are covered by the signature check
//! but not enforced, because every DevVault key may do everything.

mod approval;
mod audit;
mod body;
mod clock;
mod connect;
mod demo;
mod errors;
mod faults;
mod form;
mod html;
mod idp;
mod keys;
mod provider;
mod proxy;
mod rate_limit;
mod scope_report;
mod secret;
mod server;
mod signin;
mod store;
mod token;
mod verify;
mod wire;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use self::approval::ProxyApproval;
use self::demo::DemoProvider;
pub use self::faults::TokenRefreshConflicts;
use self::idp::Idp;
pub use self::provider::ProviderConfig;
pub use self::rate_limit::{RateLimitHeaders, RateLimitPolicy};
pub use self::scope_report::ScopeMismatchReport;
use self::server::DevState;
pub use self::store::{AuditRecord, GrantInfo};
use crate::error::Error;
use crate::protocol::api_key::{ApiKey, KeyType};

const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The user an auto-approved sign-in signs in unless the builder names another.
pub const DEFAULT_SIGN_IN_USER: &str = "demo-user";

/// Configures and starts a [`DevVault`].
#[derive(Debug)]
#[must_use = "call .start() to run DevVault"]
pub struct DevVaultBuilder {
    auto_approve: bool,
    auto_approve_sign_in: Option<bool>,
    sign_in_user: String,
    bind: SocketAddr,
    providers: Vec<ProviderConfig>,
    user_token_lifetime: Duration,
    demo_token_lifetime: Duration,
    sign_in_lifetime: Duration,
    rate_limit: Option<RateLimitPolicy>,
    require_approval: bool,
    approval_lifetime: Duration,
}

impl Default for DevVaultBuilder {
    fn default() -> Self {
        Self {
            auto_approve: false,
            auto_approve_sign_in: None,
            sign_in_user: DEFAULT_SIGN_IN_USER.to_owned(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            providers: Vec::new(),
            user_token_lifetime: DEFAULT_TOKEN_LIFETIME,
            demo_token_lifetime: DEFAULT_TOKEN_LIFETIME,
            sign_in_lifetime: wire::SIGN_IN_SESSION_LIFETIME,
            rate_limit: None,
            require_approval: false,
            approval_lifetime: wire::APPROVAL_LIFETIME,
        }
    }
}

impl DevVaultBuilder {
    /// Makes the demo provider's consent page and the approval page approve without a click,
    /// so a connect URL completes when fetched by any client that follows redirects (`curl -L`,
    /// `reqwest`). It also completes every new sign-in session at once, as the user set by
    /// [`sign_in_as`](Self::sign_in_as). Off by default: the pages wait for the user.
    ///
    /// [`auto_approve_sign_in`](Self::auto_approve_sign_in) overrides the sign-in part alone.
    pub fn auto_approve(mut self, enabled: bool) -> Self {
        self.auto_approve = enabled;
        self
    }

    /// Sets whether a new sign-in session is completed at once (`POST /sdk/auth/session`
    /// returns a session whose first poll returns the user token), regardless of
    /// [`auto_approve`](Self::auto_approve). Without this call, sign-in follows
    /// `auto_approve`. Without auto-approved sign-in, the user picks a name on the sign-in
    /// page.
    pub fn auto_approve_sign_in(mut self, enabled: bool) -> Self {
        self.auto_approve_sign_in = Some(enabled);
        self
    }

    /// Sets the user an auto-approved sign-in signs in; [`DEFAULT_SIGN_IN_USER`] by default.
    /// The name must be a DevVault user name: 1 to 64 characters from `a-z 0-9 . _ -`,
    /// starting with a letter or digit.
    pub fn sign_in_as(mut self, user: impl Into<String>) -> Self {
        self.sign_in_user = user.into();
        self
    }

    /// Sets the address to listen on; `127.0.0.1:0` (a free port) by default.
    pub fn bind(mut self, address: SocketAddr) -> Self {
        self.bind = address;
        self
    }

    /// Adds an OAuth provider besides the built-in `demo` provider.
    pub fn provider(mut self, provider: ProviderConfig) -> Self {
        self.providers.push(provider);
        self
    }

    /// Sets the lifetime of user tokens minted without an explicit one; one hour by default.
    pub fn user_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.user_token_lifetime = lifetime;
        self
    }

    /// Sets the lifetime of the demo provider's access tokens; one hour by default.
    pub fn demo_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.demo_token_lifetime = lifetime;
        self
    }

    /// Sets how long a sign-in session waits for the user; ten minutes by default.
    pub fn sign_in_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.sign_in_lifetime = lifetime;
        self
    }

    /// Limits how many signed requests each API key may send per window. Off by default;
    /// [`DevVault::set_rate_limit`] changes it while running.
    pub fn rate_limit(mut self, policy: RateLimitPolicy) -> Self {
        self.rate_limit = Some(policy);
        self
    }

    /// Makes every proxy call wait for an approval that a test grants with
    /// [`DevVault::approve`] or denies with [`DevVault::deny`], or that a person decides on the
    /// approval page. Off by default; [`DevVault::set_require_approval`] changes it while
    /// running. With auto-approve, opening the approval page grants it.
    pub fn require_approval(mut self, required: bool) -> Self {
        self.require_approval = required;
        self
    }

    /// Sets how long an approval waits for a decision before it expires; ten minutes by
    /// default.
    pub fn approval_lifetime(mut self, lifetime: Duration) -> Self {
        self.approval_lifetime = lifetime;
        self
    }

    /// Validates the configuration, binds the listener and starts serving in a background
    /// task on the current Tokio runtime.
    ///
    /// # Errors
    ///
    /// Returns [`StartError::InvalidConfig`] listing every problem with the configured
    /// providers, [`StartError::Bind`] when the address cannot be bound, and
    /// [`StartError::HttpClient`] when the HTTP client for provider calls cannot be built.
    pub async fn start(self) -> Result<DevVault, StartError> {
        self.validate()?;
        let listener = tokio::net::TcpListener::bind(self.bind)
            .await
            .map_err(|source| StartError::Bind {
                address: self.bind,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            address: self.bind,
            source,
        })?;
        let base_url = format!("http://{}", reachable(address));

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("alter-devvault/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(StartError::HttpClient)?;
        let demo = DemoProvider::new(&base_url, self.demo_token_lifetime, self.auto_approve);
        let auto_sign_in = self
            .auto_approve_sign_in
            .unwrap_or(self.auto_approve)
            .then(|| self.sign_in_user.clone());
        let mut providers = vec![demo.config(&base_url)];
        providers.extend(self.providers);
        let state = Arc::new(DevState {
            keys: keys::KeyRegistry::default(),
            nonces: verify::NonceCache::default(),
            idp: Idp::new(base_url.clone(), self.user_token_lifetime),
            store: store::Store::default(),
            connect: connect::ConnectSessions::default(),
            sign_in: signin::SignInSessions::new(self.sign_in_lifetime, auto_sign_in),
            faults: faults::Faults::default(),
            scope_reports: scope_report::ScopeReports::default(),
            approvals: approval::Approvals::new(
                self.require_approval,
                self.approval_lifetime,
                self.auto_approve,
            ),
            rate_limiter: rate_limit::RateLimiter::new(self.rate_limit),
            providers,
            demo,
            http,
            base_url,
        });
        let api_key = state.keys.mint(KeyType::Runtime);

        let (shutdown, shutdown_signal) = oneshot::channel::<()>();
        let router = server::router(Arc::clone(&state));
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = shutdown_signal.await;
                })
                .await
        });
        tracing::debug!(
            target: "alter::dev",
            base_url = %state.base_url,
            providers = %state.provider_ids(),
            auto_approve = self.auto_approve,
            auto_sign_in = ?state.sign_in.auto_sign_in(),
            "DevVault started"
        );
        Ok(DevVault {
            state,
            address,
            api_key,
            shutdown: Some(shutdown),
            server: Some(server),
        })
    }

    fn validate(&self) -> Result<(), StartError> {
        let mut problems: Vec<String> = Vec::new();
        let lifetimes = [
            ("user token lifetime", self.user_token_lifetime),
            ("demo token lifetime", self.demo_token_lifetime),
            ("sign-in session lifetime", self.sign_in_lifetime),
            ("approval lifetime", self.approval_lifetime),
        ];
        for (what, lifetime) in lifetimes {
            if lifetime > wire::MAX_TOKEN_LIFETIME {
                problems.push(format!(
                    "the {what} of {} seconds exceeds the maximum of {} seconds",
                    lifetime.as_secs(),
                    wire::MAX_TOKEN_LIFETIME.as_secs()
                ));
            }
        }
        if let Err(problem) = idp::validate_user_name(&self.sign_in_user) {
            problems.push(format!("sign_in_as: {problem}"));
        }
        if let Some(policy) = &self.rate_limit {
            problems.extend(policy.problems());
        }
        for (index, provider) in self.providers.iter().enumerate() {
            problems.extend(provider.problems());
            if provider.id == demo::PROVIDER_ID {
                problems.push(format!(
                    "provider id {:?} is reserved for the built-in demo provider",
                    demo::PROVIDER_ID
                ));
            }
            if self.providers[..index]
                .iter()
                .any(|earlier| earlier.id == provider.id)
            {
                problems.push(format!("provider id {:?} is configured twice", provider.id));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StartError::InvalidConfig(problems))
        }
    }
}

/// Returns the address clients should use: a wildcard bind is reached through loopback, which
/// the SDKs accept over plain HTTP.
fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), address.port())
        }
        _ => address,
    }
}

/// Why [`DevVaultBuilder::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration has problems; each entry names the setting and the fix.
    #[error("invalid DevVault configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}; pick another address or port 0")]
    Bind {
        /// The address requested.
        address: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The HTTP client for provider calls could not be built.
    #[error("cannot build the HTTP client for provider calls: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// A running DevVault. Dropping it stops the server without waiting; [`DevVault::shutdown`]
/// waits for open connections to finish.
pub struct DevVault {
    state: Arc<DevState>,
    address: SocketAddr,
    api_key: ApiKey,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl DevVault {
    /// Returns a builder with the defaults: `127.0.0.1:0`, no auto-approve, only the demo
    /// provider, one-hour tokens.
    pub fn builder() -> DevVaultBuilder {
        DevVaultBuilder::default()
    }

    /// Returns the base URL, e.g. `http://127.0.0.1:41234`: the value for `ALTER_BASE_URL`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// Returns the address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Returns the app key (`alter_rk_…`) minted at start-up: the value for `ALTER_API_KEY`.
    pub fn api_key(&self) -> ApiKey {
        self.api_key.clone()
    }

    /// Mints another key that this DevVault accepts. Every key type works; each key gets its
    /// own actor id.
    pub fn mint_api_key(&self, key_type: KeyType) -> ApiKey {
        self.state.keys.mint(key_type)
    }

    /// Returns the base URL of the demo provider's JSON API, e.g.
    /// `http://127.0.0.1:41234/demo/api`: the value for `ALTER_DEMO_API_URL`.
    pub fn demo_api_url(&self) -> String {
        format!("{}{}", self.state.base_url, demo::API_PATH)
    }

    /// Returns the OAuth redirect URI to register with a real provider.
    pub fn callback_url(&self) -> String {
        self.state.callback_url()
    }

    /// Mints a user token for `name`, creating the user on first use. The token is valid for
    /// the configured user token lifetime.
    ///
    /// # Panics
    ///
    /// Panics when `name` is not a user name: 1 to 64 characters from `a-z 0-9 . _ -`,
    /// starting with a letter or digit.
    pub fn user_token(&self, name: &str) -> String {
        self.state
            .idp
            .mint(name, self.state.idp.token_lifetime())
            .unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// Mints a user token for `name` that has already expired, to test how an application
    /// handles `jwt_validation_error`.
    ///
    /// # Panics
    ///
    /// Panics when `name` is not a user name, like [`DevVault::user_token`].
    pub fn expired_user_token(&self, name: &str) -> String {
        self.state
            .idp
            .mint_expired(name)
            .unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// Returns the names of all users, sorted.
    pub fn users(&self) -> Vec<String> {
        self.state.idp.users()
    }

    /// Returns every audit row received, oldest first (the most recent 10,000).
    pub fn audit_log(&self) -> Vec<AuditRecord> {
        self.state.store.audit_log()
    }

    /// Returns every scope-mismatch report received, oldest first (the most recent 1,000).
    pub fn scope_mismatch_reports(&self) -> Vec<ScopeMismatchReport> {
        self.state.scope_reports.all()
    }

    /// Returns all grants, oldest first.
    pub fn grants(&self) -> Vec<GrantInfo> {
        self.state.store.all()
    }

    /// Returns the most recent grant of `user` for `provider_id`.
    pub fn grant_for(&self, user: &str, provider_id: &str) -> Option<GrantInfo> {
        self.state
            .store
            .for_user(user, provider_id)
            .last()
            .map(store::StoredGrant::info)
    }

    /// Makes the grant's provider access token expire now, so the next `/sdk/token` request
    /// for it refreshes it at the provider. For the demo provider the old token also stops
    /// working at the demo API.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when no grant has this id.
    pub fn expire_provider_token(&self, grant_id: Uuid) -> Result<(), Error> {
        let grant = self.state.store.expire_token(grant_id).ok_or_else(|| {
            Error::invalid_request(format!("no DevVault grant has the id {grant_id}"))
        })?;
        if grant.provider_id == demo::PROVIDER_ID {
            self.state
                .demo
                .expire_access_token(grant.access_token.expose());
        }
        Ok(())
    }

    /// Revokes a demo-provider grant's tokens at the demo provider, as a user does who
    /// disconnects the app there. The next credential request for the grant fails to refresh
    /// and gets 403 `credential_revoked`; a connect session with `repair_grant_id` repairs it.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when no grant has this id or it is not a demo-provider
    /// grant.
    pub fn revoke_demo_grant(&self, grant_id: Uuid) -> Result<(), Error> {
        let grant = self.state.store.get(grant_id).ok_or_else(|| {
            Error::invalid_request(format!("no DevVault grant has the id {grant_id}"))
        })?;
        if grant.provider_id != demo::PROVIDER_ID {
            return Err(Error::invalid_request(format!(
                "grant {grant_id} is for provider {:?}; only demo-provider grants can be revoked",
                grant.provider_id
            )));
        }
        self.state.demo.revoke(
            grant.access_token.expose(),
            grant.refresh_token.as_ref().map(secret::Secret::expose),
        );
        self.state.store.expire_token(grant_id);
        Ok(())
    }

    /// Sets when `POST /sdk/token` returns HTTP 409 `token_refresh_in_progress` instead of the
    /// token, and resets the count [`DevVault::token_refresh_conflicts_served`] returns.
    pub fn set_token_refresh_conflicts(&self, conflicts: TokenRefreshConflicts) {
        self.state.faults.set_refresh_conflicts(conflicts);
    }

    /// Returns how many `token_refresh_in_progress` responses were served since the last
    /// [`DevVault::set_token_refresh_conflicts`].
    pub fn token_refresh_conflicts_served(&self) -> u64 {
        self.state.faults.refresh_conflicts_served()
    }

    /// Sets whether later proxy calls wait for an approval.
    pub fn set_require_approval(&self, required: bool) {
        self.state.approvals.set_required(required);
    }

    /// Returns every approval of a proxy call, pending ones first.
    pub fn approvals(&self) -> Vec<ProxyApproval> {
        self.state.approvals.list()
    }

    /// Grants a pending approval and executes its call before returning, so a client polling
    /// the approval sees it `executed` (or `failed`, when the provider call fails).
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when no approval has this id or it is no longer
    /// pending.
    pub async fn approve(&self, approval_id: Uuid) -> Result<(), Error> {
        self.state
            .approvals
            .grant(&self.state, approval_id)
            .await
            .map_err(|error| approval::decision_error(approval_id, error))
    }

    /// Denies a pending approval with `reason`, which the client receives.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when no approval has this id or it is no longer
    /// pending.
    pub fn deny(&self, approval_id: Uuid, reason: &str) -> Result<(), Error> {
        self.state
            .approvals
            .deny(approval_id, reason)
            .map_err(|error| approval::decision_error(approval_id, error))
    }

    /// Makes a pending approval expire now, as if no one decided in time.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when no approval has this id or it is no longer
    /// pending.
    pub fn expire_approval(&self, approval_id: Uuid) -> Result<(), Error> {
        self.state
            .approvals
            .expire(approval_id)
            .map_err(|error| approval::decision_error(approval_id, error))
    }

    /// Replaces the rate limit (`None` turns it off) and starts every key's window afresh.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when the policy allows no request or its window is not
    /// a whole number of seconds.
    pub fn set_rate_limit(&self, policy: Option<RateLimitPolicy>) -> Result<(), Error> {
        if let Some(problems) = policy.map(|policy| policy.problems())
            && !problems.is_empty()
        {
            return Err(Error::invalid_request(problems.join("; ")));
        }
        self.state.rate_limiter.set(policy);
        Ok(())
    }

    /// Stops accepting connections and waits for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(target: "alter::dev", %error, "DevVault server failed");
                }
                Err(error) => {
                    tracing::warn!(target: "alter::dev", %error, "DevVault server task failed");
                }
            }
        }
        tracing::debug!(target: "alter::dev", base_url = %self.state.base_url, "DevVault stopped");
    }
}

impl Drop for DevVault {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl fmt::Debug for DevVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevVault")
            .field("base_url", &self.state.base_url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_bind_is_reached_through_loopback() {
        let cases = [
            ("0.0.0.0:8787", "127.0.0.1:8787"),
            ("[::]:8787", "[::1]:8787"),
            ("127.0.0.1:1", "127.0.0.1:1"),
            ("[::1]:2", "[::1]:2"),
        ];
        for (bound, expected) in cases {
            let bound: SocketAddr = bound.parse().unwrap();
            assert_eq!(reachable(bound).to_string(), expected);
        }
    }
}
