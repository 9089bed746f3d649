//! The SDK's error type.
//!
//! One [`Error`] enum covers local validation, the backend's typed error bodies, provider
//! failures and transport failures. Variants that come from a backend response wrap a
//! [`BackendError`] (status, error code, message and the normalised body), and the accessors on
//! [`Error`] read the fields a caller needs to recover: the provider id to start a connect
//! session for, the grant id, the retry delay.
//!
//! Messages are lower case, name the value that failed and, where there is one, the fix. No
//! message or `Debug` output contains an API key, a user token or a provider token.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the SDK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is invalid: API key, base URL, caller, principal kind.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A request argument was rejected before any network call.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// A user-scoped call found no end-user token in scope and none was passed.
    #[error(
        "no user token for this call: run it inside a request handled by `#[alter::handler]` or \
         a bearer extractor, inside `alter::identity::scope`, or pass `.user_token(…)`"
    )]
    MissingUserToken,

    /// The user has no grant for the provider (`grant_not_found`).
    #[error("grant not found{}: {}", for_provider(.0.provider_id.as_deref()), .0.backend.message)]
    GrantNotFound(GrantError),

    /// The agent has no delegated grant for the provider (`no_delegated_grant`).
    #[error("no delegated grant{}: {}", for_provider(.0.provider_id.as_deref()), .0.backend.message)]
    NoDelegatedGrant(GrantError),

    /// Several grants match and the request did not say which (`ambiguous_grant`).
    #[error("ambiguous grant{}: pass an account or label to choose one", for_provider(.0.provider_id.as_deref()))]
    AmbiguousGrant(AmbiguousGrant),

    /// The grant lacks scopes the call needs; the user must authorize again.
    #[error("scope re-authorization required{}: {}", for_provider(.0.provider_id.as_deref()), missing_list(&.0.missing_scopes))]
    ScopeReauthRequired(ScopeReauth),

    /// The provider credential was revoked (`credential_revoked`).
    #[error("credential revoked{}: the user must connect again", for_provider(.0.provider_id.as_deref()))]
    CredentialRevoked(GrantError),

    /// The grant expired (`grant_expired`).
    #[error("grant expired{}: the user must connect again", for_provider(.0.provider_id.as_deref()))]
    GrantExpired(GrantError),

    /// The grant was revoked (`grant_revoked`).
    #[error("grant revoked{}: the user must connect again", for_provider(.0.provider_id.as_deref()))]
    GrantRevoked(GrantError),

    /// The grant was deleted (HTTP 410).
    #[error("grant deleted{}: the user must connect again", for_provider(.0.provider_id.as_deref()))]
    GrantDeleted(GrantError),

    /// The backend rejected the end user's token (`jwt_validation_error`); the user must sign in
    /// again.
    #[error("user token rejected by the backend: {}", .0.message)]
    UserTokenRejected(BackendError),

    /// A policy rule denied the call (HTTP 403 with a policy code).
    #[error("policy violation ({}): {}", .0.code.as_deref().unwrap_or("policy_denied"), .0.message)]
    PolicyViolation(BackendError),

    /// The grant may only be used through proxy mode.
    #[error("this grant can only be used through proxy mode ({})", .0.code.as_deref().unwrap_or("restricted"))]
    RestrictedGrantRequiresProxy(BackendError),

    /// A policy requires a recent sign-in before this call (`step_up_required`).
    #[error("step-up authentication required: {}", .0.backend.message)]
    StepUpRequired(StepUpRequired),

    /// A policy required redacting the provider response and the redaction failed
    /// (`redact_discharge_failed`).
    #[error("policy redaction failed: {}", .0.message)]
    RedactDischargeFailed(BackendError),

    /// The grant may not be delegated to an agent (`grant_not_delegable`).
    #[error("grant cannot be delegated: {}", .0.backend.message)]
    GrantNotDelegable(GrantNotDelegable),

    /// The managed agent behind the API key or the caller was rejected.
    #[error("agent rejected ({}): {}", .0.backend.code.as_deref().unwrap_or("agent_error"), .0.backend.message)]
    Agent(AgentError),

    /// The backend does not allow requests to the destination (`blocked_destination`).
    #[error("{}{}", .0.message, request_id_suffix(.0.request_id.as_deref()))]
    BlockedDestination(BackendError),

    /// A managed-secret request conflicts with the stored secrets.
    #[error("managed secret request rejected ({}): {}", .0.backend.code.as_deref().unwrap_or("conflict"), .0.backend.message)]
    ManagedSecret(ManagedSecretError),

    /// The API key lacks a scope the endpoint needs (`insufficient_scope`).
    #[error("API key is missing scopes: {}", missing_list(&.0.missing))]
    InsufficientScope(InsufficientScope),

    /// The backend is refreshing this grant's provider token; retry shortly.
    #[error("token refresh already in progress for grant {}; retry shortly", .0.grant_id.as_deref().unwrap_or("(unknown)"))]
    TokenRefreshInProgress(GrantError),

    /// Too many requests (`rate_limit_exceeded`, or a 429 without a JSON body).
    #[error("rate limited by the backend{}", retry_hint(.0.retry_after))]
    RateLimited(RateLimit),

    /// A usage quota is exhausted (`quota_exceeded`); do not retry automatically.
    #[error("quota exceeded{}", retry_hint(.0.retry_after))]
    QuotaExceeded(RateLimit),

    /// The API key was rejected: invalid, revoked, expired, past its rotation grace, or inactive.
    #[error("API key rejected ({}): {}", .0.code.as_deref().unwrap_or("invalid_key"), .0.message)]
    KeyRejected(KeyRejected),

    /// A connect session failed or was declined.
    #[error("connect session failed: {0}")]
    Connect(ConnectError),

    /// A sign-in session ended without a user token, or the wait for it ran out.
    #[error("{0}")]
    SignIn(SignInError),

    /// A proxy call needed an approval that was denied, expired, failed or not decided in time.
    #[error("approval {0}")]
    Approval(ApprovalError),

    /// The provider rejected the credential with HTTP 401.
    #[error("provider rejected the credential with HTTP 401 for {} {}", .0.method, .0.url)]
    ProviderUnauthorized(ProviderError),

    /// The provider returned another error status.
    #[error("provider returned HTTP {} for {} {}", .0.status, .0.method, .0.url)]
    Provider(ProviderError),

    /// A provider response body could not be decoded as the caller asked.
    #[error("{0}")]
    Decode(String),

    /// Any other backend error response.
    #[error("backend returned HTTP {}{}: {}", .0.status, code_suffix(.0.code.as_deref()), .0.message)]
    Backend(BackendError),

    /// The backend responseed with a body that does not follow the protocol.
    #[error("malformed backend response from {endpoint}: {reason}")]
    MalformedResponse {
        /// The backend path that was called, e.g. `/sdk/token`.
        endpoint: &'static str,
        /// The problem with the response.
        reason: String,
    },

    /// A request could not be sent or its response could not be read.
    #[error("network error calling {target}: {source}")]
    Network {
        /// `backend` or the provider URL's origin.
        target: String,
        /// The underlying transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A request did not complete within the configured timeout.
    #[error("request to {target} timed out after {}", format_duration(*.timeout))]
    Timeout {
        /// `backend` or the provider URL's origin.
        target: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
}

/// The parts of a backend error response that every backend-mapped variant carries.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BackendError {
    /// HTTP status code.
    pub status: u16,
    /// The `error` code of the body, when it had one.
    pub code: Option<String>,
    /// The body's `message`, or a fixed default for the error kind.
    pub message: String,
    /// The normalised body: the JSON object (or its FastAPI `detail` object) plus `status_code`.
    pub details: Map<String, Value>,
    /// The `X-Request-ID` response header, when present.
    pub request_id: Option<String>,
}

impl BackendError {
    /// Creates a backend error from its parts.
    pub fn new(status: u16, code: Option<String>, message: impl Into<String>) -> Self {
        let mut details = Map::new();
        if let Some(code) = &code {
            details.insert("error".into(), Value::String(code.clone()));
        }
        details.insert("status_code".into(), Value::from(status));
        Self {
            status,
            code,
            message: message.into(),
            details,
            request_id: None,
        }
    }

    /// Returns a string field of `details`.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(Value::as_str)
    }
}

/// A backend error about a grant, with the ids that identify it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GrantError {
    /// The backend response.
    pub backend: BackendError,
    /// The provider the grant is for.
    pub provider_id: Option<String>,
    /// The grant id.
    pub grant_id: Option<String>,
    /// The managed agent involved.
    pub agent_id: Option<String>,
    /// The application's id for the end user.
    pub app_user_id: Option<String>,
}

impl GrantError {
    /// Reads the ids from `backend.details`.
    pub fn from_backend(backend: BackendError) -> Self {
        let field = |key: &str| backend.detail_str(key).map(str::to_owned);
        Self {
            provider_id: field("provider_id"),
            grant_id: field("grant_id"),
            agent_id: field("agent_id"),
            app_user_id: field("app_user_id"),
            backend,
        }
    }
}

/// Several grants matched a provider-mode request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AmbiguousGrant {
    /// The backend response.
    pub backend: BackendError,
    /// The provider.
    pub provider_id: Option<String>,
    /// The account identifiers of the matching grants.
    pub account_identifiers: Vec<String>,
    /// Whether the request named an account.
    pub account_was_provided: bool,
    /// The application user ids of the matching grants.
    pub app_user_ids: Vec<String>,
    /// The ids of the matching grants.
    pub grant_ids: Vec<String>,
    /// The candidate grants, as listed by the backend.
    pub candidates: Vec<GrantCandidate>,
    /// Whether the backend listed only some of the candidates.
    pub candidates_truncated: bool,
}

/// One candidate of an [`AmbiguousGrant`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantCandidate {
    /// The grant id.
    pub grant_id: Option<String>,
    /// The grant's label.
    pub label: Option<String>,
    /// The provider account, e.g. an email address.
    pub account_identifier: Option<String>,
    /// The provider account's display name.
    pub account_display_name: Option<String>,
}

/// The grant lacks scopes; the user must authorize the provider again.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ScopeReauth {
    /// HTTP status: 403.
    pub status: u16,
    /// The provider.
    pub provider_id: Option<String>,
    /// The grant.
    pub grant_id: Option<String>,
    /// The scopes the provider or backend reported missing.
    pub missing_scopes: Vec<String>,
    /// The detector of the mismatch: `backend_flag` or `provider_insufficient_scope`.
    pub source: String,
    /// The backend response, when the backend reported the mismatch.
    pub backend: Option<BackendError>,
}

/// The API key lacks a scope.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct InsufficientScope {
    /// The backend response.
    pub backend: BackendError,
    /// Scopes the endpoint requires.
    pub required: Vec<String>,
    /// Scopes the key has.
    pub granted: Vec<String>,
    /// Scopes the key lacks.
    pub missing: Vec<String>,
    /// Scopes of which any one would satisfy the endpoint.
    pub required_any_of: Vec<String>,
    /// The scope version the key was issued with.
    pub scope_version: Option<u64>,
    /// The scope version the backend currently enforces.
    pub current_scope_version: Option<u64>,
    /// Whether the key is rejected because its scope version is out of date.
    pub scope_version_mismatch: bool,
    /// The URL of the documentation on API key scopes.
    pub documentation_url: Option<String>,
}

/// A rate-limit or quota response.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// The backend response.
    pub backend: BackendError,
    /// How long to wait, from `Retry-After` or the body's `retry_after`, clamped.
    pub retry_after: Option<Duration>,
    /// The subject of the limit: `ip`, `api_key` or `organization`.
    pub scope: Option<String>,
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Window length in seconds.
    pub window_seconds: Option<u64>,
}

/// The API key was rejected.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KeyRejected {
    /// The reason the key was rejected.
    pub kind: KeyRejectedKind,
    /// The backend's error response.
    pub backend: BackendError,
    /// The backend's hint on how to fix it.
    pub hint: Option<String>,
}

/// The reason the backend rejected an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRejectedKind {
    /// The backend does not know the key (`invalid_key`).
    Invalid,
    /// The key was revoked (`key_revoked`).
    Revoked,
    /// The key expired (`key_expired`).
    Expired,
    /// The key was rotated and the old key's grace period ended (`key_rotated_grace_expired`).
    RotationGraceExpired,
    /// The key is not active (`key_not_active`).
    Inactive,
}

/// The backend rejected the managed agent behind the API key or the per-call caller.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AgentError {
    /// The check that failed.
    pub kind: AgentErrorKind,
    /// The backend's error response.
    pub backend: BackendError,
    /// The backend's hint on how to fix it.
    pub hint: Option<String>,
}

/// The agent check that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentErrorKind {
    /// The caller names no active managed agent of this app (`caller_agent_unresolved`,
    /// `agent_not_found`).
    NotFound,
    /// The agent is inactive (`agent_inactive`).
    Inactive,
    /// The agent was revoked (`agent_revoked`).
    Revoked,
    /// The caller agent does not match the agent the API key belongs to
    /// (`caller_agent_mismatch`).
    CallerMismatch,
    /// The backend failed to resolve the caller's agent identity
    /// (`caller_agent_resolution_error`).
    CallerResolution,
    /// The backend found no app for the API key (`app_not_found_for_key`).
    KeyAppNotFound,
}

/// A policy requires the user to have signed in recently.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepUpRequired {
    /// The backend's error response.
    pub backend: BackendError,
    /// The maximum age, in seconds, of a sign-in that satisfies the policy.
    pub max_session_age_seconds: Option<u64>,
}

/// The grant may not be delegated.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GrantNotDelegable {
    /// The backend's error response.
    pub backend: BackendError,
    /// The backend's reason, e.g. that the grant is restricted.
    pub detail_reason: Option<String>,
}

/// A managed-secret request conflicts with the stored secrets.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ManagedSecretError {
    /// The conflict the backend reported.
    pub kind: ManagedSecretErrorKind,
    /// The backend's error response.
    pub backend: BackendError,
}

/// A managed-secret conflict the backend reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedSecretErrorKind {
    /// Another secret of the same group already uses the label (`sibling_label_conflict`).
    SiblingLabelConflict,
    /// The request must name a credential id (`credential_id_required`).
    CredentialIdRequired,
    /// An end user's credential cannot be assigned this way
    /// (`end_user_credential_not_assignable`).
    EndUserCredentialNotAssignable,
}

impl std::ops::Deref for KeyRejected {
    type Target = BackendError;

    fn deref(&self) -> &BackendError {
        &self.backend
    }
}

/// A connect session ended without a grant.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConnectError {
    /// The way the session failed.
    pub kind: ConnectErrorKind,
    /// The backend's error code, e.g. `connect_denied`, `session_expired`.
    pub code: Option<String>,
    /// A human-readable reason.
    pub message: String,
    /// The backend response, when the failure came from a backend error response.
    pub backend: Option<BackendError>,
}

impl ConnectError {
    /// Creates a connect error that did not come from a backend error response.
    pub fn new(kind: ConnectErrorKind, code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            backend: None,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ConnectErrorKind::Denied => "the user declined",
            ConnectErrorKind::Config => "provider configuration error",
            ConnectErrorKind::Timeout => "timed out",
            ConnectErrorKind::Flow => "flow error",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

/// The ways a connect session can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The user declined the authorization.
    Denied,
    /// The provider or the app is misconfigured.
    Config,
    /// The session expired or the poll deadline elapsed.
    Timeout,
    /// Any other failure of the flow.
    Flow,
}

/// A sign-in session ended without a user token.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SignInError {
    /// The way it failed.
    pub kind: SignInErrorKind,
    /// The backend's error code, e.g. `access_denied`, or the local reason, e.g.
    /// `poll_deadline_elapsed`.
    pub code: Option<String>,
    /// A human-readable reason.
    pub message: String,
}

impl SignInError {
    /// Creates a sign-in error.
    pub fn new(kind: SignInErrorKind, code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SignInErrorKind::Failed => "sign-in failed",
            SignInErrorKind::Expired => "sign-in session expired",
            SignInErrorKind::TimedOut => "sign-in timed out",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

/// The ways a sign-in session can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInErrorKind {
    /// The backend ended the session with an error, e.g. the user cancelled.
    Failed,
    /// The session expired before the user signed in.
    Expired,
    /// The local wait ended before the user signed in.
    TimedOut,
}

/// A proxy call's approval did not lead to a result.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ApprovalError {
    /// The way it failed.
    pub kind: ApprovalErrorKind,
    /// The approval id, when the backend issued one.
    pub approval_id: Option<String>,
    /// A human-readable reason: the backend's decision reason or execution error when it sent
    /// one.
    pub message: String,
    /// The backend response, when the failure came from a backend error response.
    pub backend: Option<BackendError>,
}

impl ApprovalError {
    /// Creates an approval error that did not come from a backend error response.
    pub fn new(
        kind: ApprovalErrorKind,
        approval_id: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            approval_id,
            message: message.into(),
            backend: None,
        }
    }
}

impl fmt::Display for ApprovalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ApprovalErrorKind::Denied => "denied",
            ApprovalErrorKind::Expired => "expired",
            ApprovalErrorKind::ExecutionFailed => "granted but the call failed",
            ApprovalErrorKind::TimedOut => "not decided in time",
        };
        match &self.approval_id {
            Some(id) => write!(f, "{id} {kind}: {}", self.message),
            None => write!(f, "{kind}: {}", self.message),
        }
    }
}

/// The ways an approval can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApprovalErrorKind {
    /// An approver denied the call (`approval_denied`).
    Denied,
    /// No one decided before the approval expired (`approval_expired`).
    Expired,
    /// The call was approved, but the backend failed to execute it
    /// (`approval_execution_failed`).
    ExecutionFailed,
    /// The local wait ended while the approval was still pending.
    TimedOut,
}

/// A provider response with an error status.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ProviderError {
    /// HTTP status code.
    pub status: u16,
    /// Upper-case method.
    pub method: String,
    /// The URL, without the query string, which may carry an injected credential.
    pub url: String,
    /// The grant used.
    pub grant_id: Option<String>,
    /// The provider.
    pub provider_id: Option<String>,
    /// The `WWW-Authenticate` header, when present.
    pub www_authenticate: Option<String>,
    /// The response body as text, truncated like the audit row's.
    pub body: String,
}

impl fmt::Debug for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderError")
            .field("status", &self.status)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("grant_id", &self.grant_id)
            .field("provider_id", &self.provider_id)
            .field("www_authenticate", &self.www_authenticate)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    pub(crate) fn malformed(endpoint: &'static str, reason: impl Into<String>) -> Self {
        Self::MalformedResponse {
            endpoint,
            reason: reason.into(),
        }
    }

    /// Returns the backend response behind this error, when it came from the backend.
    pub fn backend(&self) -> Option<&BackendError> {
        match self {
            Self::GrantNotFound(e)
            | Self::NoDelegatedGrant(e)
            | Self::CredentialRevoked(e)
            | Self::GrantExpired(e)
            | Self::GrantRevoked(e)
            | Self::GrantDeleted(e)
            | Self::TokenRefreshInProgress(e) => Some(&e.backend),
            Self::AmbiguousGrant(e) => Some(&e.backend),
            Self::ScopeReauthRequired(e) => e.backend.as_ref(),
            Self::InsufficientScope(e) => Some(&e.backend),
            Self::RateLimited(e) | Self::QuotaExceeded(e) => Some(&e.backend),
            Self::KeyRejected(e) => Some(&e.backend),
            Self::Agent(e) => Some(&e.backend),
            Self::StepUpRequired(e) => Some(&e.backend),
            Self::GrantNotDelegable(e) => Some(&e.backend),
            Self::ManagedSecret(e) => Some(&e.backend),
            Self::Connect(e) => e.backend.as_ref(),
            Self::Approval(e) => e.backend.as_ref(),
            Self::UserTokenRejected(e)
            | Self::PolicyViolation(e)
            | Self::RedactDischargeFailed(e)
            | Self::RestrictedGrantRequiresProxy(e)
            | Self::BlockedDestination(e)
            | Self::Backend(e) => Some(e),
            _ => None,
        }
    }

    /// Returns the HTTP status of the backend or provider response behind this error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::ScopeReauthRequired(e) => Some(e.status),
            Self::Provider(e) | Self::ProviderUnauthorized(e) => Some(e.status),
            _ => self.backend().map(|b| b.status),
        }
    }

    /// Returns the backend's `error` code, e.g. `grant_not_found`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Connect(e) => e.code.as_deref(),
            Self::SignIn(e) => e.code.as_deref(),
            _ => self.backend().and_then(|b| b.code.as_deref()),
        }
    }

    /// Returns the provider this error is about, when known.
    pub fn provider_id(&self) -> Option<&str> {
        match self {
            Self::GrantNotFound(e)
            | Self::NoDelegatedGrant(e)
            | Self::CredentialRevoked(e)
            | Self::GrantExpired(e)
            | Self::GrantRevoked(e)
            | Self::GrantDeleted(e)
            | Self::TokenRefreshInProgress(e) => e.provider_id.as_deref(),
            Self::AmbiguousGrant(e) => e.provider_id.as_deref(),
            Self::ScopeReauthRequired(e) => e.provider_id.as_deref(),
            Self::Provider(e) | Self::ProviderUnauthorized(e) => e.provider_id.as_deref(),
            _ => None,
        }
    }

    /// Returns the grant this error is about, when known.
    pub fn grant_id(&self) -> Option<&str> {
        match self {
            Self::GrantNotFound(e)
            | Self::NoDelegatedGrant(e)
            | Self::CredentialRevoked(e)
            | Self::GrantExpired(e)
            | Self::GrantRevoked(e)
            | Self::GrantDeleted(e)
            | Self::TokenRefreshInProgress(e) => e.grant_id.as_deref(),
            Self::ScopeReauthRequired(e) => e.grant_id.as_deref(),
            Self::Provider(e) | Self::ProviderUnauthorized(e) => e.grant_id.as_deref(),
            _ => None,
        }
    }

    /// Returns the managed agent this error is about, when known.
    pub fn agent_id(&self) -> Option<&str> {
        match self {
            Self::GrantNotFound(e) | Self::NoDelegatedGrant(e) | Self::GrantExpired(e) => {
                e.agent_id.as_deref()
            }
            _ => None,
        }
    }

    /// Returns the application's id for the end user this error is about, when known.
    pub fn app_user_id(&self) -> Option<&str> {
        match self {
            Self::GrantNotFound(e)
            | Self::NoDelegatedGrant(e)
            | Self::GrantExpired(e)
            | Self::CredentialRevoked(e) => e.app_user_id.as_deref(),
            _ => None,
        }
    }

    /// Returns the backend's hint on how to fix a rejected API key or agent.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::KeyRejected(e) => e.hint.as_deref(),
            Self::Agent(e) => e.hint.as_deref(),
            _ => None,
        }
    }

    /// Returns the `X-Request-ID` of the backend response behind this error, for support requests.
    pub fn request_id(&self) -> Option<&str> {
        self.backend().and_then(|b| b.request_id.as_deref())
    }

    /// Returns the scopes the user must grant, for [`Error::ScopeReauthRequired`].
    pub fn missing_scopes(&self) -> &[String] {
        match self {
            Self::ScopeReauthRequired(e) => &e.missing_scopes,
            _ => &[],
        }
    }

    /// Returns whether a connect session for [`Error::provider_id`] would fix this error:
    /// the user has no usable grant, or must authorize the provider again.
    pub fn needs_connect_session(&self) -> bool {
        matches!(
            self,
            Self::GrantNotFound(_)
                | Self::NoDelegatedGrant(_)
                | Self::ScopeReauthRequired(_)
                | Self::CredentialRevoked(_)
                | Self::GrantExpired(_)
                | Self::GrantRevoked(_)
                | Self::GrantDeleted(_)
                | Self::ProviderUnauthorized(_)
        )
    }

    /// Returns how long to wait before retrying, when the backend sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(e) | Self::QuotaExceeded(e) => e.retry_after,
            _ => self
                .backend()
                .and_then(|b| b.details.get("retry_after_seconds"))
                .and_then(Value::as_u64)
                .map(Duration::from_secs),
        }
    }

    /// Returns whether the same call may succeed if retried later unchanged: rate limits,
    /// a token refresh in progress, 5xx responses, timeouts and network failures. A quota that
    /// is exhausted is not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited(_)
            | Self::TokenRefreshInProgress(_)
            | Self::Timeout { .. }
            | Self::Network { .. } => true,
            Self::Backend(e) => matches!(e.status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Returns whether this error is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

fn for_provider(provider_id: Option<&str>) -> String {
    provider_id
        .map(|p| format!(" for provider `{p}`"))
        .unwrap_or_default()
}

fn missing_list(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "the missing scopes were not reported".to_owned()
    } else {
        format!("missing {}", scopes.join(", "))
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; retry after {}", format_duration(d)))
        .unwrap_or_default()
}

fn request_id_suffix(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" ({c})")).unwrap_or_default()
}

fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
