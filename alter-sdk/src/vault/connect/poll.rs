//! Polling a connect session: one poll's status, and [`WaitForConnect`], which polls until
//! the user finishes, declines, or the deadline passes.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{BackendError, ConnectError, ConnectErrorKind, Error};
use crate::protocol::json::to_ascii_vec;

use super::super::Vault;
use super::super::backend::Call;

const POLL_PATH: &str = "/sdk/oauth/connect/session/poll";
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);

/// One poll's view of a connect session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectStatus {
    /// The user has not finished yet.
    Pending {
        /// Providers the user declined so far.
        declined: Vec<DeclinedProvider>,
    },
    /// The user finished and at least one grant was stored.
    Completed {
        /// The grants stored.
        grants: Vec<ConnectedGrant>,
        /// Providers whose grant could not be stored.
        failed: Vec<FailedGrant>,
    },
}

/// A grant created or repaired by a connect session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectedGrant {
    /// The grant id.
    pub grant_id: String,
    /// The provider id.
    pub provider_id: String,
    /// The provider account, e.g. an email address.
    pub account_identifier: Option<String>,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The provider's API origin, when the backend reports a bare https origin.
    pub api_base_url: Option<String>,
    /// Whether the grant is new (`creation`) or was re-authorized (`reauth`).
    pub operation: String,
    /// The lifetime policy applied to the grant, when the session set one.
    pub grant_policy: Option<GrantPolicyInfo>,
    /// The delegation to a managed agent, when the session named one.
    pub delegation: Option<Delegation>,
}

/// The lifetime policy applied to a connected grant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantPolicyInfo {
    /// When the grant expires, as an RFC 3339 timestamp.
    pub expires_at: Option<String>,
    /// The principal that set the policy.
    pub created_by: Option<String>,
    /// When the policy was set.
    pub created_at: Option<String>,
}

/// The delegation of a connected grant to a managed agent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delegation {
    /// The agent's id.
    pub agent_id: String,
    /// Whether the agent may delegate the grant further.
    pub delegable: bool,
    /// Whether a policy refused the delegation, leaving the grant undelegated.
    pub policy_refused: bool,
}

/// A provider the user declined during a connect session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeclinedProvider {
    /// The provider id.
    pub provider_id: String,
    /// Why, e.g. `access_denied`.
    pub error_code: String,
    /// When the user declined, as an RFC 3339 timestamp.
    pub declined_at: Option<String>,
}

/// A provider whose grant could not be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedGrant {
    /// The provider id.
    pub provider_id: String,
    /// A reason code such as `activation_failed` or `not_selected`.
    pub reason: String,
    /// A human-readable message.
    pub message: String,
}

/// A callback called with each provider the user declines.
type DeclinedCallback = Arc<dyn Fn(&DeclinedProvider) + Send + Sync>;

/// Polls a connect session until it ends; created by [`Vault::wait_for_connect_session`].
///
/// Await it directly. It polls, then sleeps the poll interval, until the session completes or
/// fails or the timeout elapses. A rate-limited poll waits at least the `Retry-After` delay.
/// Every other error ends the wait.
#[must_use = "await it to poll the session"]
pub struct WaitForConnect {
    vault: Vault,
    session_token: String,
    timeout: Duration,
    poll_interval: Duration,
    on_declined: Option<DeclinedCallback>,
}

impl fmt::Debug for WaitForConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForConnect")
            .field("timeout", &self.timeout)
            .field("poll_interval", &self.poll_interval)
            .field("on_declined", &self.on_declined.is_some())
            .finish_non_exhaustive()
    }
}

impl WaitForConnect {
    pub(crate) fn new(vault: Vault, session_token: String) -> Self {
        Self {
            vault,
            session_token,
            timeout: DEFAULT_WAIT_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            on_declined: None,
        }
    }

    /// Calls `callback` once for each provider the user declines while the session stays
    /// open for the others.
    pub fn on_declined(
        mut self,
        callback: impl Fn(&DeclinedProvider) + Send + Sync + 'static,
    ) -> Self {
        self.on_declined = Some(Arc::new(callback));
        self
    }

    /// Sets how long to wait in total. Defaults to 300 seconds; `Duration::MAX` waits without a
    /// deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the pause between polls. Defaults to 2 seconds.
    /// Intervals under 10 milliseconds are raised to 10 milliseconds.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(crate::vault::MIN_POLL_INTERVAL);
        self
    }

    async fn run(self) -> Result<Vec<ConnectedGrant>, Error> {
        // A timeout too long to add to the clock, such as `Duration::MAX`, sets no deadline.
        let deadline = Instant::now().checked_add(self.timeout);
        let mut seen_pending = false;
        let mut declined: Vec<String> = Vec::new();
        loop {
            let remaining = deadline.map_or(Duration::MAX, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            // The deadline also bounds each poll, so a backend that does not respond cannot hold
            // the wait for the vault's longer request timeout.
            let poll = poll_once(&self.vault, &self.session_token);
            let Ok(polled) = tokio::time::timeout(remaining, poll).await else {
                return Err(deadline_elapsed(&declined));
            };
            let pause = match polled {
                Ok(ConnectStatus::Completed { grants, .. }) => return Ok(grants),
                Ok(ConnectStatus::Pending {
                    declined: newly_declined,
                }) => {
                    seen_pending = true;
                    for provider in newly_declined {
                        if declined.contains(&provider.provider_id) {
                            continue;
                        }
                        declined.push(provider.provider_id.clone());
                        if let Some(callback) = &self.on_declined {
                            callback(&provider);
                        }
                    }
                    self.poll_interval
                }
                Err(Error::RateLimited(limit)) => {
                    let wait = limit
                        .retry_after
                        .unwrap_or_default()
                        .max(self.poll_interval);
                    if wait > remaining {
                        return Err(connect_timeout(
                            "rate_limited",
                            "polling was rate limited until the deadline",
                        ));
                    }
                    wait
                }
                Err(Error::Connect(error))
                    if error.code.as_deref() == Some("session_expired") && !seen_pending =>
                {
                    return Err(Error::Connect(ConnectError {
                        kind: ConnectErrorKind::Flow,
                        ..error
                    }));
                }
                Err(error) => return Err(error),
            };
            if remaining.is_zero() {
                return Err(deadline_elapsed(&declined));
            }
            tokio::time::sleep(pause.min(remaining)).await;
        }
    }
}

/// Builds the error for a wait whose deadline passed, naming the providers the user declined.
fn deadline_elapsed(declined: &[String]) -> Error {
    let message = if declined.is_empty() {
        "the user did not finish before the deadline".to_owned()
    } else {
        format!(
            "the user did not finish before the deadline and declined {}",
            declined.join(", ")
        )
    };
    connect_timeout("poll_deadline_elapsed", &message)
}

impl IntoFuture for WaitForConnect {
    type Output = Result<Vec<ConnectedGrant>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

pub(crate) async fn poll_once(vault: &Vault, session_token: &str) -> Result<ConnectStatus, Error> {
    if session_token.is_empty() {
        return Err(Error::invalid_request("the session token is empty"));
    }
    let body = to_ascii_vec(&json!({ "session_token": session_token }))
        .map_err(|e| Error::invalid_request(format!("failed to encode: {e}")))?;
    let reply = vault
        .inner()
        .backend()
        .send_checked(Call::post_json(POLL_PATH, body))
        .await?;
    parse_status(&reply.body)
}

fn parse_status(body: &[u8]) -> Result<ConnectStatus, Error> {
    let malformed = |reason: String| Error::malformed(POLL_PATH, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON".into()))?;
    let status = value
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("`status` must be a non-empty string".into()))?;
    match status {
        "pending" => Ok(ConnectStatus::Pending {
            declined: parse_declined(value.get("declined_providers")),
        }),
        "completed" => parse_completed(&value).map_err(malformed)?,
        "error" => Err(parse_error(value.get("error")).map_err(malformed)?),
        "expired" => Err(Error::Connect(ConnectError::new(
            ConnectErrorKind::Timeout,
            Some("session_expired".into()),
            "the connect session expired",
        ))),
        other => Err(Error::Connect(ConnectError::new(
            ConnectErrorKind::Flow,
            None,
            format!("unexpected connect session status `{other}`"),
        ))),
    }
}

fn parse_declined(value: Option<&Value>) -> Vec<DeclinedProvider> {
    let Some(entries) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            Some(DeclinedProvider {
                provider_id: entry.get("provider_id")?.as_str()?.to_owned(),
                error_code: entry.get("error_code")?.as_str()?.to_owned(),
                declined_at: entry
                    .get("declined_at")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

fn parse_completed(value: &Value) -> Result<Result<ConnectStatus, Error>, String> {
    let grants = match value.get("grants") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries
            .iter()
            .map(parse_grant)
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("`grants` must be an array".into()),
    };
    let failed = match value.get("failed_grants") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries
            .iter()
            .map(parse_failed)
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("`failed_grants` must be an array".into()),
    };
    if grants.is_empty() && !failed.is_empty() {
        let all_activation = failed
            .iter()
            .all(|f| matches!(f.reason.as_str(), "not_selected" | "activation_failed"));
        let code = if all_activation {
            "grant_activation_failed"
        } else {
            "grant_policy_application_failed"
        };
        let reasons: Vec<String> = failed
            .iter()
            .map(|f| format!("{}: {}", f.provider_id, f.message))
            .collect();
        return Ok(Err(Error::Connect(ConnectError::new(
            ConnectErrorKind::Flow,
            Some(code.into()),
            format!("no grant was stored ({})", reasons.join("; ")),
        ))));
    }
    Ok(Ok(ConnectStatus::Completed { grants, failed }))
}

fn parse_grant(entry: &Value) -> Result<ConnectedGrant, String> {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let grant_id = text("grant_id").ok_or("a grant lacks a `grant_id` string")?;
    let provider_id = text("provider_id").ok_or("a grant lacks a `provider_id` string")?;
    let scopes = entry
        .get("scopes")
        .and_then(Value::as_array)
        .map(|scopes| {
            scopes
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let api_base_url = text("api_base_url").filter(|url| is_bare_https_origin(url));
    let operation = text("operation").unwrap_or_else(|| "creation".into());
    let grant_policy = match entry.get("grant_policy") {
        None | Some(Value::Null) => None,
        Some(Value::Object(policy)) => {
            let field = |key: &str| policy.get(key).and_then(Value::as_str).map(str::to_owned);
            Some(GrantPolicyInfo {
                expires_at: field("expires_at"),
                created_by: field("created_by"),
                created_at: field("created_at"),
            })
        }
        Some(_) => return Err("a grant's `grant_policy` must be an object".into()),
    };
    let delegation = match entry.get("delegation") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_delegation(value)?),
    };
    Ok(ConnectedGrant {
        grant_policy,
        delegation,
        grant_id,
        provider_id,
        account_identifier: text("account_identifier"),
        scopes,
        api_base_url,
        operation,
    })
}

fn parse_delegation(value: &Value) -> Result<Delegation, String> {
    let agent_id = value
        .get("agent_id")
        .and_then(Value::as_str)
        .filter(|id| uuid::Uuid::try_parse(id).is_ok())
        .ok_or("a delegation's `agent_id` must be a UUID")?;
    let delegable = value
        .get("delegable")
        .and_then(Value::as_bool)
        .ok_or("a delegation's `delegable` must be a boolean")?;
    let policy_refused = match value.get("policy_refused") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(refused)) => *refused,
        Some(_) => return Err("a delegation's `policy_refused` must be a boolean".into()),
    };
    Ok(Delegation {
        agent_id: agent_id.to_owned(),
        delegable,
        policy_refused,
    })
}

fn parse_failed(entry: &Value) -> Result<FailedGrant, String> {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("a failed grant lacks a non-empty `{key}`"))
    };
    Ok(FailedGrant {
        provider_id: text("provider_id")?,
        reason: text("reason")?,
        message: text("message")?,
    })
}

fn parse_error(value: Option<&Value>) -> Result<Error, String> {
    let error = value.ok_or("an `error` status lacks its `error` object")?;
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("the `error` object lacks a non-blank `{key}`"))
    };
    let code = text("error_code")?;
    let message = text("error_message")?;
    let kind = match code.as_str() {
        "connect_denied" => ConnectErrorKind::Denied,
        "connect_config_error"
        | "invalid_redirect_uri"
        | "invalid_client"
        | "unauthorized_client"
        | "provider_configuration_unavailable"
        | "shared_dev_credential_unavailable"
        | "managed_oauth_scope_approval_required" => ConnectErrorKind::Config,
        "service_unavailable" => {
            let mut backend = BackendError::new(503, Some(code), message);
            if let Some(seconds) = error.get("retry_after_seconds").and_then(Value::as_u64) {
                backend
                    .details
                    .insert("retry_after_seconds".into(), Value::from(seconds));
            }
            return Ok(Error::Backend(backend));
        }
        "identity_provider_inactive" | "identity_group_name_ambiguous" => {
            return Ok(Error::Backend(BackendError::new(409, Some(code), message)));
        }
        _ => ConnectErrorKind::Flow,
    };
    Ok(Error::Connect(ConnectError::new(kind, Some(code), message)))
}

fn connect_timeout(reason: &str, message: &str) -> Error {
    Error::Connect(ConnectError::new(
        ConnectErrorKind::Timeout,
        Some(reason.into()),
        message,
    ))
}

/// Returns whether `url` is `https://host[:port]` with nothing after the authority but an
/// optional `/`.
fn is_bare_https_origin(url: &str) -> bool {
    let Some(authority) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let has_extra = authority.is_empty() || authority.contains(['/', '?', '#', '@']);
    !has_extra && url::Url::parse(url).is_ok_and(|parsed| parsed.host_str().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_pending_with_declined() {
        let status = parse_status(
            br#"{"status":"pending","declined_providers":[{"provider_id":"demo","error_code":"access_denied"}]}"#,
        )
        .unwrap();
        let ConnectStatus::Pending { declined } = status else {
            panic!("expected pending, got {status:?}");
        };
        assert_eq!(declined[0].provider_id, "demo");
    }

    #[test]
    fn status_completed() {
        let status = parse_status(
            br#"{"status":"completed","grants":[{"grant_id":"g","provider_id":"demo","scopes":["read"],"api_base_url":"https://api.example/v1"}]}"#,
        )
        .unwrap();
        let ConnectStatus::Completed { grants, .. } = status else {
            panic!("expected completed, got {status:?}");
        };
        assert_eq!(grants[0].scopes, ["read"]);
        assert_eq!(grants[0].operation, "creation");
        assert_eq!(grants[0].api_base_url, None, "a URL with a path is dropped");
    }

    #[test]
    fn status_errors_are_typed() {
        let denied = parse_status(
            br#"{"status":"error","error":{"error_code":"connect_denied","error_message":"no"}}"#,
        )
        .unwrap_err();
        assert!(matches!(
            denied,
            Error::Connect(ConnectError {
                kind: ConnectErrorKind::Denied,
                ..
            })
        ));
        let config = parse_status(
            br#"{"status":"error","error":{"error_code":"invalid_client","error_message":"bad"}}"#,
        )
        .unwrap_err();
        assert!(matches!(
            config,
            Error::Connect(ConnectError {
                kind: ConnectErrorKind::Config,
                ..
            })
        ));
        let unavailable = parse_status(
            br#"{"status":"error","error":{"error_code":"service_unavailable","error_message":"later","retry_after_seconds":4}}"#,
        )
        .unwrap_err();
        assert_eq!(unavailable.status(), Some(503));
        assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(4)));
        let expired = parse_status(br#"{"status":"expired"}"#).unwrap_err();
        assert!(matches!(
            expired,
            Error::Connect(ConnectError {
                kind: ConnectErrorKind::Timeout,
                ..
            })
        ));
        let all_failed = parse_status(
            br#"{"status":"completed","grants":[],"failed_grants":[{"provider_id":"demo","reason":"activation_failed","message":"x"}]}"#,
        )
        .unwrap_err();
        assert_eq!(all_failed.code(), Some("grant_activation_failed"));
    }

    #[test]
    fn status_shape_errors() {
        let cases: [&[u8]; 4] = [
            br#"{"status":""}"#,
            br#"{"status":"error"}"#,
            br#"{"status":"completed","grants":[{"provider_id":"demo"}]}"#,
            br#"{"status":"completed","grants":{}}"#,
        ];
        for body in cases {
            assert!(
                matches!(parse_status(body), Err(Error::MalformedResponse { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bare_https_origin() {
        assert!(is_bare_https_origin("https://api.example.com"));
        assert!(is_bare_https_origin("https://api.example.com:8443/"));
        assert!(!is_bare_https_origin("http://api.example.com"));
        assert!(!is_bare_https_origin("https://api.example.com/v1"));
        assert!(!is_bare_https_origin("https://api.example.com?x"));
    }

    #[test]
    fn grant_policy_and_delegation_are_read() {
        let status = parse_status(
            br#"{"status":"completed","grants":[{"grant_id":"g","provider_id":"demo","operation":"reauth","grant_policy":{"expires_at":"2026-01-01T00:00:00Z","created_by":"app"},"delegation":{"agent_id":"0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21","delegable":true}}]}"#,
        )
        .unwrap();
        let ConnectStatus::Completed { grants, .. } = status else {
            panic!("expected completed, got {status:?}");
        };
        let grant = &grants[0];
        assert_eq!(grant.operation, "reauth");
        let policy = grant.grant_policy.as_ref().unwrap();
        assert_eq!(policy.created_by.as_deref(), Some("app"));
        assert_eq!(policy.created_at, None);
        let delegation = grant.delegation.as_ref().unwrap();
        assert!(delegation.delegable);
        assert!(!delegation.policy_refused);

        for broken in [
            r#"{"agent_id":"agent-1","delegable":true}"#,
            r#"{"agent_id":"0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21"}"#,
            r#"{"agent_id":"0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21","delegable":true,"policy_refused":1}"#,
        ] {
            let body = format!(
                r#"{{"status":"completed","grants":[{{"grant_id":"g","provider_id":"p","delegation":{broken}}}]}}"#
            );
            assert!(
                matches!(
                    parse_status(body.as_bytes()),
                    Err(Error::MalformedResponse { .. })
                ),
                "{broken}"
            );
        }
    }

    #[test]
    fn declined_at_is_read() {
        let status = parse_status(
            br#"{"status":"pending","declined_providers":[{"provider_id":"demo","error_code":"access_denied","declined_at":"2026-01-01T00:00:00Z"},{"provider_id":3}]}"#,
        )
        .unwrap();
        let ConnectStatus::Pending { declined } = status else {
            panic!("expected pending");
        };
        assert_eq!(declined.len(), 1, "a malformed entry is skipped");
        assert_eq!(
            declined[0].declined_at.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn parser_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse_status(&body);
        }
    }
}
