//! The protocol constants DevVault uses: endpoint paths, error codes, time windows and
//! size limits.
//!
//! Header names come from [`crate::protocol::signing`], so the client and DevVault share one
//! spelling of each.

use std::time::Duration;

/// Prefix of every signed backend endpoint.
pub(super) const SDK_PREFIX: &str = "/sdk/";
/// Credential retrieval.
pub(super) const TOKEN_PATH: &str = "/sdk/token";
/// Audit row for one provider call made with a retrieved credential.
pub(super) const AUDIT_PATH: &str = "/sdk/oauth/audit/api-call";
/// Connect session creation.
pub(super) const CONNECT_SESSION_PATH: &str = "/sdk/oauth/connect/session";
/// Connect session polling.
pub(super) const CONNECT_POLL_PATH: &str = "/sdk/oauth/connect/session/poll";
/// Sign-in session creation.
pub(super) const AUTH_SESSION_PATH: &str = "/sdk/auth/session";
/// Sign-in session polling.
pub(super) const AUTH_POLL_PATH: &str = "/sdk/auth/poll";
/// User token verification.
pub(super) const AUTH_VERIFY_PATH: &str = "/sdk/auth/verify-token";

/// The backend rejects signatures whose timestamp is more than this far from its clock, in
/// either direction.
pub(super) const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// Maximum nonces remembered at once: about 3,300 signed requests a second, sustained over the
/// skew window, in at most some 60 MB. A request that would exceed it gets 503 rather than
/// forgetting a nonce that could still be replayed.
pub(super) const MAX_REMEMBERED_NONCES: usize = 1_000_000;
/// Maximum request body size read on any route, in bytes.
pub(super) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Maximum token lifetime DevVault stores or issues: ten years. Provider tokens that claim to
/// live longer are treated as living this long, and longer configured lifetimes are rejected.
pub(super) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Proxy mode.
pub(super) const PROXY_PATH: &str = "/sdk/proxy";
/// Default lifetime of an approval, as sent in `expires_in`.
pub(super) const APPROVAL_LIFETIME: Duration = Duration::from_secs(600);
/// Lifetime of a connect session, as sent in `expires_in`.
pub(super) const CONNECT_SESSION_LIFETIME: Duration = Duration::from_secs(600);
/// Default lifetime of a sign-in session, as sent in `expires_in`.
pub(super) const SIGN_IN_SESSION_LIFETIME: Duration = Duration::from_secs(600);
/// The maximum time a poll may stay open waiting for a change.
pub(super) const MAX_LONG_POLL: Duration = Duration::from_secs(25);
/// How long a finished or expired connect or sign-in session can still be polled before it is forgotten.
pub(super) const CONNECT_SESSION_RETENTION: Duration = Duration::from_secs(3600);
/// A provider token this close to its expiry is refreshed before it is handed out.
pub(super) const REFRESH_MARGIN_SECS: u64 = 30;
/// Audit rows kept; older rows are dropped first.
pub(super) const MAX_AUDIT_ROWS: usize = 10_000;
/// Lifetime of an authorization code issued by the demo provider.
pub(super) const DEMO_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Default injection of a provider token into the provider request.
pub(super) const DEFAULT_INJECTION_HEADER: &str = "Authorization";
/// Default format of the injected header value; `{token}` is replaced by the access token.
pub(super) const DEFAULT_INJECTION_FORMAT: &str = "Bearer {token}";

/// `error` codes of DevVault's JSON error bodies.
pub(super) mod code {
    /// The `x-api-key` header is missing or names a key DevVault did not mint.
    pub(in crate::dev) const INVALID_KEY: &str = "invalid_key";
    /// A signature header is missing.
    pub(in crate::dev) const MISSING_SIGNATURE: &str = "missing_signature";
    /// `X-Alter-Timestamp` is not whole Unix seconds.
    pub(in crate::dev) const INVALID_TIMESTAMP: &str = "invalid_timestamp";
    /// `X-Alter-Timestamp` is outside the allowed clock skew.
    pub(in crate::dev) const STALE_TIMESTAMP: &str = "stale_timestamp";
    /// `X-Alter-Nonce` is not 32 lower-case hex characters.
    pub(in crate::dev) const INVALID_NONCE: &str = "invalid_nonce";
    /// `X-Alter-Nonce` was already used within the skew window.
    pub(in crate::dev) const NONCE_REUSED: &str = "nonce_reused";
    /// `X-Alter-Content-SHA256` does not match the received body.
    pub(in crate::dev) const CONTENT_HASH_MISMATCH: &str = "content_hash_mismatch";
    /// The signature does not verify.
    pub(in crate::dev) const INVALID_SIGNATURE: &str = "invalid_signature";
    /// `X-Alter-Actor-ID` names another key's actor.
    pub(in crate::dev) const ACTOR_MISMATCH: &str = "actor_id_mismatch";
    /// An identity header is malformed.
    pub(in crate::dev) const INVALID_IDENTITY_HEADER: &str = "invalid_identity_header";
    /// The end user's token is missing its signature, expired or not issued by this DevVault.
    pub(in crate::dev) const JWT_VALIDATION_ERROR: &str = "jwt_validation_error";
    /// No grant matches.
    pub(in crate::dev) const GRANT_NOT_FOUND: &str = "grant_not_found";
    /// Several grants match and the request named no label or account to choose one.
    pub(in crate::dev) const AMBIGUOUS_GRANT: &str = "ambiguous_grant";
    /// The provider token expired and the provider issued no refresh token.
    pub(in crate::dev) const GRANT_EXPIRED: &str = "grant_expired";
    /// The provider rejected the refresh token.
    pub(in crate::dev) const CREDENTIAL_REVOKED: &str = "credential_revoked";
    /// Another request is refreshing the grant's provider token.
    pub(in crate::dev) const TOKEN_REFRESH_IN_PROGRESS: &str = "token_refresh_in_progress";
    /// The provider's token endpoint failed or returned something unusable.
    pub(in crate::dev) const PROVIDER_ERROR: &str = "provider_error";
    /// The request body or a parameter is malformed.
    pub(in crate::dev) const INVALID_REQUEST: &str = "invalid_request";
    /// The request needs an end user and names none.
    pub(in crate::dev) const USER_TOKEN_REQUIRED: &str = "user_token_required";
    /// The request names a provider DevVault has no configuration for.
    pub(in crate::dev) const UNKNOWN_PROVIDER: &str = "unknown_provider";
    /// A connect session's `scope_constraint` is malformed.
    pub(in crate::dev) const INVALID_SCOPE_CONSTRAINT: &str = "invalid_scope_constraint";
    /// No managed agent has this id or name.
    pub(in crate::dev) const AGENT_NOT_FOUND: &str = "agent_not_found";
    /// An agent key named another agent than its own.
    pub(in crate::dev) const CALLER_AGENT_MISMATCH: &str = "caller_agent_mismatch";
    /// The calling agent has no delegation of a grant for the provider.
    pub(in crate::dev) const NO_DELEGATED_GRANT: &str = "no_delegated_grant";
    /// The grant may not be used by agents.
    pub(in crate::dev) const GRANT_NOT_DELEGABLE: &str = "grant_not_delegable";
    /// No connect session has this token.
    pub(in crate::dev) const SESSION_NOT_FOUND: &str = "connect_session_not_found";
    /// No sign-in session has this token.
    pub(in crate::dev) const AUTH_SESSION_NOT_FOUND: &str = "auth_session_not_found";
    /// The grant is restricted and usable only through proxy mode.
    pub(in crate::dev) const RESTRICTED_GRANT_REQUIRES_PROXY: &str =
        "restricted_grant_requires_proxy";
    /// A grant restriction does not allow the proxied request.
    pub(in crate::dev) const POLICY_DENIED: &str = "policy_denied";
    /// The proxy does not call this destination.
    pub(in crate::dev) const BLOCKED_DESTINATION: &str = "blocked_destination";
    /// No approval has this id.
    pub(in crate::dev) const APPROVAL_NOT_FOUND: &str = "approval_not_found";
    /// An approver denied the proxied call.
    pub(in crate::dev) const APPROVAL_DENIED: &str = "approval_denied";
    /// No one decided before the approval expired.
    pub(in crate::dev) const APPROVAL_EXPIRED: &str = "approval_expired";
    /// The approved call failed.
    pub(in crate::dev) const APPROVAL_EXECUTION_FAILED: &str = "approval_execution_failed";
    /// The approval has no result yet.
    pub(in crate::dev) const APPROVAL_PENDING: &str = "approval_pending";
    /// No route matches.
    pub(in crate::dev) const NOT_FOUND: &str = "not_found";
    /// The route exists but not for this method.
    pub(in crate::dev) const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The body is larger than DevVault reads.
    pub(in crate::dev) const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// DevVault cannot take more requests right now.
    pub(in crate::dev) const SERVICE_UNAVAILABLE: &str = "service_unavailable";
    /// The user declined the provider's consent screen.
    pub(in crate::dev) const CONNECT_DENIED: &str = "connect_denied";
    /// The provider's authorization or token endpoint reported an error.
    pub(in crate::dev) const CONNECT_PROVIDER_ERROR: &str = "provider_authorization_failed";
}

/// Maximum length of an injection header name the client accepts.
pub(super) const MAX_INJECTION_HEADER_LEN: usize = 60;
/// Maximum length of an injection format the client accepts.
pub(super) const MAX_INJECTION_FORMAT_LEN: usize = 200;
