//! Connect sessions: a hosted page where the end user authorizes providers.
//!
//! [`ConnectSessionBuilder`] creates a session and returns its URL; the app sends the user
//! there. [`Vault::connect_session_status`] polls once, and [`WaitForConnect`] polls until the
//! user finishes, declines, or the deadline passes.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::error::{BackendError, ConnectError, ConnectErrorKind, Error};
use crate::identity::UserToken;
use crate::protocol::json::to_ascii_vec;

use super::Vault;
use super::backend::Call;

const CREATE_PATH: &str = "/sdk/oauth/connect/session";
const POLL_PATH: &str = "/sdk/oauth/connect/session/poll";
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_LABEL_LEN: usize = 255;

/// Builder for a connect session, created by [`Vault::create_connect_session`].
#[derive(Debug)]
#[must_use]
pub struct ConnectSessionBuilder {
    vault: Vault,
    allowed_providers: Option<Vec<String>>,
    required_scopes: Vec<(String, Vec<String>)>,
    return_url: Option<String>,
    allowed_origin: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    label: Option<String>,
    agent: Option<String>,
    user_token: Option<UserToken>,
}

impl ConnectSessionBuilder {
    pub(crate) fn new(vault: Vault) -> Self {
        Self {
            vault,
            allowed_providers: None,
            required_scopes: Vec::new(),
            return_url: None,
            allowed_origin: None,
            ip_address: None,
            user_agent: None,
            label: None,
            agent: None,
            user_token: None,
        }
    }

    /// Limits the page to these provider ids. Without it, every provider the app configured is
    /// offered.
    pub fn allowed_providers<I, S>(mut self, providers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_providers = Some(providers.into_iter().map(Into::into).collect());
        self
    }

    /// Requires these scopes for `provider`.
    pub fn required_scopes<I, S>(mut self, provider: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.required_scopes.push((provider.into(), scopes));
        self
    }

    /// Sends the user to this URL when the flow ends.
    pub fn return_url(mut self, url: impl Into<String>) -> Self {
        self.return_url = Some(url.into());
        self
    }

    /// Lets the page `postMessage` its result to this origin, for popup flows.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origin = Some(origin.into());
        self
    }

    /// Records the end user's IP address and user agent with the session.
    pub fn metadata(mut self, ip_address: Option<String>, user_agent: Option<String>) -> Self {
        self.ip_address = ip_address;
        self.user_agent = user_agent;
        self
    }

    /// Stores the resulting grant under this label, so requests can choose it with
    /// `.label(…)`. 1 to 255 characters.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Delegates the resulting grant to this managed agent (UUID or name).
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Creates the session for this user instead of the one in scope.
    pub fn user_token(mut self, token: impl Into<UserToken>) -> Self {
        self.user_token = Some(token.into());
        self
    }

    /// Creates the session.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] for invalid arguments, [`Error::MissingUserToken`]
    /// when no user is in scope, the typed backend error for an error answer, and
    /// [`Error::MalformedResponse`] for an answer that does not follow the protocol.
    pub async fn send(self) -> Result<ConnectSession, Error> {
        let body = self.encode()?;
        let reply = self
            .vault
            .inner()
            .backend()
            .send_checked(Call::post_json(CREATE_PATH, body))
            .await?;
        parse_session(&reply.body)
    }

    fn encode(&self) -> Result<Vec<u8>, Error> {
        if let Some(providers) = &self.allowed_providers {
            if providers.is_empty() {
                return Err(Error::invalid_request(
                    "allowed providers is empty; leave it unset to offer every provider",
                ));
            }
            if providers.iter().any(|p| p.trim().is_empty()) {
                return Err(Error::invalid_request(
                    "allowed providers contains a blank provider id",
                ));
            }
        }
        if let Some(label) = &self.label {
            let length = label.chars().count();
            if length == 0 || length > MAX_LABEL_LEN {
                return Err(Error::invalid_request(format!(
                    "the grant label must be 1 to {MAX_LABEL_LEN} characters, got {length}"
                )));
            }
        }
        if self.agent.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid_request("the agent must not be empty"));
        }
        let user_token = self.vault.resolve_user_token(self.user_token.as_ref())?;

        let mut body = Map::new();
        body.insert("allowed_providers".into(), json!(self.allowed_providers));
        body.insert("return_url".into(), json!(self.return_url));
        body.insert("allowed_origin".into(), json!(self.allowed_origin));
        let mut metadata = Map::new();
        if let Some(ip) = &self.ip_address {
            metadata.insert("ip_address".into(), json!(ip));
        }
        if let Some(agent) = &self.user_agent {
            metadata.insert("user_agent".into(), json!(agent));
        }
        let metadata = if metadata.is_empty() {
            Value::Null
        } else {
            Value::Object(metadata)
        };
        body.insert("metadata".into(), metadata);
        if !self.required_scopes.is_empty() {
            let scopes: Map<String, Value> = self
                .required_scopes
                .iter()
                .map(|(provider, scopes)| (provider.clone(), json!(scopes)))
                .collect();
            body.insert("required_scopes".into(), Value::Object(scopes));
        }
        if let Some(label) = &self.label {
            body.insert("requested_grant".into(), json!({ "label": label }));
        }
        if let Some(agent) = &self.agent {
            body.insert("agent".into(), json!(agent));
        }
        if let Some(token) = user_token {
            body.insert("user_token".into(), json!(token.expose_secret()));
        }
        to_ascii_vec(&body).map_err(|e| Error::invalid_request(format!("failed to encode: {e}")))
    }
}

/// A created connect session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectSession {
    /// The URL to send the user to.
    pub connect_url: String,
    /// The token that identifies the session when polling it.
    pub session_token: String,
    /// How long the session stays valid.
    pub expires_in: Duration,
    /// When the session expires, as an RFC 3339 timestamp.
    pub expires_at: String,
}

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
}

/// A provider the user declined during a connect session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeclinedProvider {
    /// The provider id.
    pub provider_id: String,
    /// Why, e.g. `access_denied`.
    pub error_code: String,
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

/// Polls a connect session until it ends; created by [`Vault::wait_for_connect_session`].
///
/// Await it directly. It polls, then sleeps the poll interval, until the session completes or
/// fails or the timeout elapses. A rate-limited poll waits at least the `Retry-After` delay.
#[derive(Debug)]
#[must_use = "await it to poll the session"]
pub struct WaitForConnect {
    vault: Vault,
    session_token: String,
    timeout: Duration,
    poll_interval: Duration,
}

impl WaitForConnect {
    pub(crate) fn new(vault: Vault, session_token: String) -> Self {
        Self {
            vault,
            session_token,
            timeout: DEFAULT_WAIT_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Sets how long to wait in total. Defaults to 300 seconds; `Duration::MAX` waits without a
    /// deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the pause between polls. Defaults to 2 seconds.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    async fn run(self) -> Result<Vec<ConnectedGrant>, Error> {
        // A timeout too long to add to the clock, such as `Duration::MAX`, sets no deadline.
        let deadline = Instant::now().checked_add(self.timeout);
        let mut seen_pending = false;
        loop {
            let remaining = deadline.map_or(Duration::MAX, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            let pause = match poll_once(&self.vault, &self.session_token).await {
                Ok(ConnectStatus::Completed { grants, .. }) => return Ok(grants),
                Ok(ConnectStatus::Pending { .. }) => {
                    seen_pending = true;
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
                return Err(connect_timeout(
                    "poll_deadline_elapsed",
                    "the user did not finish before the deadline",
                ));
            }
            tokio::time::sleep(pause.min(remaining)).await;
        }
    }
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

fn parse_session(body: &[u8]) -> Result<ConnectSession, Error> {
    let malformed = |reason: &str| Error::malformed(CREATE_PATH, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("`{key}` must be a non-empty string")))
    };
    let expires_in = object
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("`expires_in` must be an integer of at least 0"))?;
    Ok(ConnectSession {
        session_token: text("session_token")?,
        connect_url: text("connect_url")?,
        expires_at: text("expires_at")?,
        expires_in: Duration::from_secs(expires_in),
    })
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
    Ok(ConnectedGrant {
        grant_id,
        provider_id,
        account_identifier: text("account_identifier"),
        scopes,
        api_base_url,
        operation,
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
    fn parses_session() {
        let session = parse_session(
            br#"{"session_token":"cs_1","connect_url":"https://c.example/s","expires_in":600,"expires_at":"2026-01-01T00:00:00Z","extra":1}"#,
        )
        .unwrap();
        assert_eq!(session.session_token, "cs_1");
        assert_eq!(session.expires_in, Duration::from_secs(600));
    }

    #[test]
    fn session_shape_errors() {
        let cases: [&[u8]; 5] = [
            b"not json",
            b"[]",
            br#"{"session_token":"","connect_url":"u","expires_in":1,"expires_at":"t"}"#,
            br#"{"session_token":"s","connect_url":"u","expires_in":1.5,"expires_at":"t"}"#,
            br#"{"session_token":"s","connect_url":"u","expires_in":-1,"expires_at":"t"}"#,
        ];
        for body in cases {
            assert!(
                matches!(parse_session(body), Err(Error::MalformedResponse { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

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
}
