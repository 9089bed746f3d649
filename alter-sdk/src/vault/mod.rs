//! The vault client.
//!
//! A [`Vault`] contains the API key, two pooled HTTP clients (one for the backend, which carries
//! the key, and one for providers, which never sees it) and the background audit queue. It is
//! cheap to clone, and clones share everything. The end user a call acts for is never stored in
//! the shared part: it comes from the call, from a handle made with [`Vault::with_user_token`],
//! or from the current [`identity scope`](crate::identity::scope), in that order.

mod approval;
mod audit;
mod backend;
mod builder;
mod connect;
mod constraints;
mod proxy;
mod request;
mod response;
mod retrieve;
mod retry;
mod signin;
mod trace;
pub mod transport;
#[cfg(test)]
mod vector_tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

pub use approval::{ApprovalGate, ApprovalState, ApprovalStatus, WaitForApproval};
pub use builder::{DEFAULT_TIMEOUT, VaultBuilder};
pub use connect::{
    ConnectSession, ConnectSessionBuilder, ConnectStatus, ConnectedGrant, DeclinedProvider,
    Delegation, FailedGrant, GrantPolicy, GrantPolicyInfo, GrantRestrictions, WaitForConnect,
};
pub use constraints::Constraints;
pub use proxy::{PendingApproval, ProxyOutcome, ProxyRequestBuilder, ProxyResponse};
pub use request::RequestBuilder;
pub use response::Response;
pub use signin::{AuthSession, AuthStatus, SignedInUser, WaitForSignIn};

use crate::error::Error;
use crate::identity::{self, UserToken};
use crate::protocol::rate_limit::RateLimitSnapshot;

use self::audit::AuditQueue;
use self::backend::Backend;
use self::retry::TokenRetry;
use self::transport::HttpTransport;

/// The shortest pause between two polls of a wait. A shorter setting is raised to it, so that a
/// zero interval cannot turn a wait into a busy loop against the backend.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Whether an API key belongs to an application or to a managed agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// An application (operator) key.
    App,
    /// A managed agent's key.
    Agent,
}

/// The `X-Alter-Caller-Type` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallerType {
    /// An autonomous agent.
    Agent,
    /// A service acting for the application.
    Service,
}

impl CallerType {
    /// Returns the wire value: `agent` or `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Service => "service",
        }
    }
}

/// The behaviour of a call that has no end-user token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserScope {
    /// It fails with [`Error::MissingUserToken`].
    Required,
    /// It runs with the application's authority.
    AppAllowed,
}

/// The Alter Vault client.
///
/// Build one at start-up with [`Vault::builder`] and clone it wherever it is needed:
///
/// ```no_run
/// # async fn run() -> Result<(), alter::Error> {
/// use alter::{Method, Vault};
///
/// let vault = Vault::builder(std::env::var("ALTER_API_KEY").unwrap_or_default())
///     .caller("my-app")
///     .build()?;
/// let user = vault.with_user_token("eyJ…user's bearer token…");
/// let response = user
///     .request(Method::GET, "https://api.github.com/user")
///     .provider("github")
///     .send()
///     .await?;
/// let profile: serde_json::Value = response.json()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Vault {
    inner: Arc<VaultInner>,
    user: Option<UserToken>,
}

pub(crate) struct VaultInner {
    backend: Arc<Backend>,
    provider: Arc<dyn HttpTransport>,
    audit: AuditQueue,
    kind: PrincipalKind,
    user_scope: UserScope,
    timeout: Duration,
    token_retry: TokenRetry,
}

impl VaultInner {
    pub(crate) fn new(
        backend: Backend,
        provider: Arc<dyn HttpTransport>,
        kind: PrincipalKind,
        user_scope: UserScope,
        timeout: Duration,
        token_retry: TokenRetry,
    ) -> Self {
        Self {
            backend: Arc::new(backend),
            provider,
            audit: AuditQueue::new(),
            kind,
            user_scope,
            timeout,
            token_retry,
        }
    }

    /// Returns the parts of a sibling vault that uses `backend` and shares everything else
    /// with this one.
    pub(crate) fn sibling(&self, backend: Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            provider: Arc::clone(&self.provider),
            audit: self.audit.clone(),
            kind: self.kind,
            user_scope: self.user_scope,
            timeout: self.timeout,
            token_retry: self.token_retry,
        }
    }

    pub(crate) fn token_retry(&self) -> TokenRetry {
        self.token_retry
    }

    pub(crate) fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    pub(crate) fn provider(&self) -> &dyn HttpTransport {
        self.provider.as_ref()
    }

    pub(crate) fn provider_timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn audit(&self) -> &AuditQueue {
        &self.audit
    }
}

impl Vault {
    /// Starts building a vault for `api_key`.
    pub fn builder(api_key: impl Into<String>) -> VaultBuilder {
        VaultBuilder::new(api_key.into())
    }

    /// Builds a vault from `ALTER_API_KEY` (and `ALTER_BASE_URL`, when set) with default
    /// settings.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] when `ALTER_API_KEY` is unset or any setting is invalid.
    pub fn from_env() -> Result<Self, Error> {
        let api_key = std::env::var("ALTER_API_KEY").map_err(|_| {
            Error::config("ALTER_API_KEY is not set; export the API key from the Alter dashboard or from `alter-dev`")
        })?;
        Self::builder(api_key).build()
    }

    /// Returns whether the key belongs to an application or an agent.
    pub fn kind(&self) -> PrincipalKind {
        self.inner.kind
    }

    /// Returns the backend base URL.
    pub fn base_url(&self) -> &str {
        self.inner.backend.base_url().as_str()
    }

    /// Returns a handle whose calls act for the user with `token`.
    ///
    /// The handle shares everything else with `self`; the token is bound to the handle only, so
    /// other clones are unaffected.
    #[must_use]
    pub fn with_user_token(&self, token: impl Into<UserToken>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            user: Some(token.into()),
        }
    }

    /// Returns the user token bound to this handle with [`Vault::with_user_token`].
    pub fn bound_user_token(&self) -> Option<&UserToken> {
        self.user.as_ref()
    }

    /// Returns a handle that shares everything with `self` but has no user bound.
    pub(crate) fn without_user_token(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            user: None,
        }
    }

    /// Starts a credential request: the vault fetches the user's credential for the provider,
    /// injects it into this HTTP request, sends it, and records an audit row.
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.into())
    }

    /// Starts creating a connect session, which gives a URL where the user authorizes
    /// providers.
    pub fn create_connect_session(&self) -> ConnectSessionBuilder {
        ConnectSessionBuilder::new(self.clone())
    }

    /// Polls a connect session once.
    ///
    /// # Errors
    ///
    /// Returns the typed backend error for an error response, [`Error::Connect`] when the session
    /// ended without a grant (declined, misconfigured, expired), and
    /// [`Error::MalformedResponse`] for a response that does not follow the protocol.
    pub async fn connect_session_status(
        &self,
        session_token: &str,
    ) -> Result<ConnectStatus, Error> {
        connect::poll_once(self, session_token).await
    }

    /// Polls a connect session until it completes or fails, or until the wait's
    /// [`timeout`](WaitForConnect::timeout) (300 seconds unless set) elapses.
    pub fn wait_for_connect_session(&self, session_token: impl Into<String>) -> WaitForConnect {
        WaitForConnect::new(self.clone(), session_token.into())
    }

    /// Returns the rate limit the backend reported on its most recent response that carried
    /// rate-limit headers, or `None` before any did. It is informational: the client does not
    /// wait on it.
    pub fn last_rate_limit(&self) -> Option<RateLimitSnapshot> {
        self.inner.backend.last_rate_limit()
    }

    /// Waits until every audit row scheduled so far has been sent (or has failed).
    ///
    /// Call it during graceful shutdown, after the server stopped accepting requests, so that
    /// no audit row is lost.
    pub async fn flush(&self) {
        self.inner.audit.flush().await;
    }

    /// Resolves the end user's token for a user-scoped call: the call's own token, then the
    /// handle's, then the current identity scope.
    pub(crate) fn resolve_user_token(
        &self,
        explicit: Option<&UserToken>,
    ) -> Result<Option<UserToken>, Error> {
        let token = explicit
            .cloned()
            .or_else(|| self.user.clone())
            .or_else(identity::current);
        match token {
            Some(token) if token.expose_secret().is_empty() => Err(Error::invalid_request(
                "the user token is empty; pass the bearer token from the request",
            )),
            Some(token) => Ok(Some(token)),
            None if self.inner.user_scope == UserScope::AppAllowed => Ok(None),
            None => Err(Error::MissingUserToken),
        }
    }

    pub(crate) fn inner(&self) -> &VaultInner {
        &self.inner
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("kind", &self.inner.kind)
            .field("base_url", &self.inner.backend.base_url().as_str())
            .field("api_key", self.inner.backend.api_key())
            .field("user", &self.user)
            .finish()
    }
}
