//! Approvals of proxy calls: reading an approval's state and waiting for its decision.
//!
//! `GET /sdk/approvals/{id}` (optionally `?wait=N`, a long poll of up to 25 seconds) returns
//! the state, and `GET /sdk/approvals/{id}/result` the provider's response once the backend
//! has executed the approved call. Both are signed but carry no actor headers.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{ApprovalError, ApprovalErrorKind, Error};
use crate::protocol::proxy::MAX_APPROVAL_WAIT_SECS;

use super::Vault;
use super::backend::{Call, is_canonical_uuid};
use super::proxy::{ProxyResponse, map_proxy_error, parse_result};

/// How long [`Vault::wait_for_approval`] waits by default.
pub(crate) const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Added to a long poll's wait to get its HTTP timeout.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(15);
const APPROVAL_ENDPOINT: &str = "/sdk/approvals/{id}";
const RESULT_ENDPOINT: &str = "/sdk/approvals/{id}/result";

/// One approval a proxy call needs. A pending approval lists its URL and lifetime; an
/// approval's state lists its status and decision time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApprovalGate {
    /// The approval id.
    pub approval_id: Option<String>,
    /// The gate's lifecycle state, e.g. `pending` or `approved`.
    pub status: Option<String>,
    /// When it expires, as an RFC 3339 timestamp.
    pub expires_at: Option<String>,
    /// How long it stays open, in seconds.
    pub expires_in: Option<u64>,
    /// Where an approver decides.
    pub approval_url: Option<String>,
    /// When an approver decided, as an RFC 3339 timestamp.
    pub decided_at: Option<String>,
}

/// The lifecycle state of an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved; the backend has not executed the call yet.
    Approved,
    /// The backend is executing the approved call.
    Executing,
    /// An approver denied the call.
    Denied,
    /// The approval expired before a decision.
    Expired,
    /// The backend executed the call; its result is available.
    Executed,
    /// The backend failed to execute the approved call.
    Failed,
}

impl ApprovalStatus {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "executing" => Self::Executing,
            "denied" => Self::Denied,
            "expired" => Self::Expired,
            "executed" => Self::Executed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// An approval as `GET /sdk/approvals/{id}` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApprovalState {
    /// The approval id.
    pub approval_id: String,
    /// The lifecycle state.
    pub status: ApprovalStatus,
    /// The group of approvals the call needs.
    pub approval_group_id: Option<String>,
    /// Each approval of the group.
    pub gates: Vec<ApprovalGate>,
    /// When the approval expires, as an RFC 3339 timestamp.
    pub expires_at: Option<String>,
    /// When an approver decided.
    pub decided_at: Option<String>,
    /// The approver's reason.
    pub decision_reason: Option<String>,
    /// When the backend executed the call.
    pub executed_at: Option<String>,
    /// The reason the execution failed.
    pub execution_error: Option<String>,
    /// Whether the result can be fetched.
    pub has_result: bool,
}

impl Vault {
    /// Reads an approval's state once, without waiting.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when `approval_id` is not a UUID, the typed backend
    /// error for an error response, and [`Error::MalformedResponse`] for a response that
    /// breaks the protocol.
    pub async fn approval_status(&self, approval_id: &str) -> Result<ApprovalState, Error> {
        check_approval_id(approval_id)?;
        fetch_state(self, approval_id, 0).await
    }

    /// Returns the provider's response of an executed approval.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when `approval_id` is not a UUID, [`Error::Approval`]
    /// when the approval was denied, expired or failed, the typed backend error for another
    /// error response, and [`Error::MalformedResponse`] for a response that breaks the protocol.
    pub async fn approval_result(&self, approval_id: &str) -> Result<ProxyResponse, Error> {
        check_approval_id(approval_id)?;
        let path = format!("/sdk/approvals/{approval_id}/result");
        let mut call = Call::get(&path);
        call.actor_headers = false;
        let reply = self.inner().backend().send(call).await?;
        match reply.status.as_u16() {
            200 => parse_result(RESULT_ENDPOINT, &reply.body),
            status if status >= 400 => Err(map_proxy_error(&reply)),
            status => Err(Error::malformed(
                RESULT_ENDPOINT,
                format!("expected HTTP 200, got {status}"),
            )),
        }
    }

    /// Waits for an approval's decision and returns the provider's response once the backend
    /// has executed the approved call.
    pub fn wait_for_approval(&self, approval_id: impl Into<String>) -> WaitForApproval {
        WaitForApproval {
            vault: self.without_user_token(),
            approval_id: approval_id.into(),
            timeout: DEFAULT_APPROVAL_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// Waits for an approval; created by [`Vault::wait_for_approval`].
///
/// Await it directly. Each poll asks the backend to hold the request open for up to 25
/// seconds. Network failures, timeouts and HTTP 502, 503 and 504 are retried until the
/// timeout; every other error ends the wait.
#[derive(Debug)]
#[must_use = "await it to wait for the approval"]
pub struct WaitForApproval {
    vault: Vault,
    approval_id: String,
    timeout: Duration,
    poll_interval: Duration,
}

impl WaitForApproval {
    /// Sets how long to wait in total. Defaults to 300 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the pause between polls that return without a decision. Defaults to 1 second.
    /// Intervals under 10 milliseconds are raised to 10 milliseconds.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(super::MIN_POLL_INTERVAL);
        self
    }

    async fn run(self) -> Result<ProxyResponse, Error> {
        check_approval_id(&self.approval_id)?;
        let id = self.approval_id.as_str();
        let deadline = Instant::now() + self.timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = remaining.as_secs().min(MAX_APPROVAL_WAIT_SECS);
            match fetch_state(&self.vault, id, wait).await {
                Ok(state) => {
                    if let Some(result) = self.finish(&state).await {
                        return result;
                    }
                }
                Err(error) if is_transient(&error) => tracing::debug!(
                    target: "alter::approval",
                    approval_id = id,
                    %error,
                    "approval poll failed; retrying until the deadline"
                ),
                Err(error) => return Err(error),
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::Approval(ApprovalError::new(
                    ApprovalErrorKind::TimedOut,
                    Some(self.approval_id.clone()),
                    format!(
                        "no decision within {} seconds",
                        self.timeout.as_secs_f64().round()
                    ),
                )));
            }
            tokio::time::sleep(self.poll_interval.min(remaining)).await;
        }
    }

    /// Returns the outcome for a decided approval, or `None` while it is still open.
    async fn finish(&self, state: &ApprovalState) -> Option<Result<ProxyResponse, Error>> {
        let id = Some(self.approval_id.clone());
        let reason = |text: &Option<String>, fallback: &str| {
            text.clone().unwrap_or_else(|| fallback.to_owned())
        };
        match state.status {
            ApprovalStatus::Executed => Some(self.vault.approval_result(&self.approval_id).await),
            _ if state.has_result => Some(self.vault.approval_result(&self.approval_id).await),
            ApprovalStatus::Pending | ApprovalStatus::Approved | ApprovalStatus::Executing => None,
            ApprovalStatus::Denied => Some(Err(Error::Approval(ApprovalError::new(
                ApprovalErrorKind::Denied,
                id,
                reason(&state.decision_reason, "an approver denied the call"),
            )))),
            ApprovalStatus::Expired => Some(Err(Error::Approval(ApprovalError::new(
                ApprovalErrorKind::Expired,
                id,
                "nobody decided before the approval expired",
            )))),
            ApprovalStatus::Failed => Some(Err(Error::Approval(ApprovalError::new(
                ApprovalErrorKind::ExecutionFailed,
                id,
                reason(&state.execution_error, "the backend gave no reason"),
            )))),
        }
    }
}

impl IntoFuture for WaitForApproval {
    type Output = Result<ProxyResponse, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

fn is_transient(error: &Error) -> bool {
    match error {
        Error::Network { .. } | Error::Timeout { .. } => true,
        _ => matches!(error.status(), Some(502..=504)),
    }
}

fn check_approval_id(approval_id: &str) -> Result<(), Error> {
    if is_canonical_uuid(approval_id) {
        return Ok(());
    }
    Err(Error::invalid_request(format!(
        "the approval id {:?} is not a lower-case hyphenated UUID; pass the `approval_id` the \
         backend returned",
        approval_id.chars().take(64).collect::<String>()
    )))
}

/// Sends `GET /sdk/approvals/{id}`, holding it open for `wait_secs` when above zero.
async fn fetch_state(
    vault: &Vault,
    approval_id: &str,
    wait_secs: u64,
) -> Result<ApprovalState, Error> {
    let path = if wait_secs > 0 {
        format!("/sdk/approvals/{approval_id}?wait={wait_secs}")
    } else {
        format!("/sdk/approvals/{approval_id}")
    };
    let mut call = Call::get(&path);
    call.actor_headers = false;
    if wait_secs > 0 {
        let client_timeout = vault.inner().provider_timeout();
        call.timeout =
            Some((Duration::from_secs(wait_secs) + LONG_POLL_MARGIN).max(client_timeout));
    }
    let reply = vault.inner().backend().send(call).await?;
    match reply.status.as_u16() {
        200 => parse_state(&reply.body),
        status if status >= 400 => Err(map_proxy_error(&reply)),
        status => Err(Error::malformed(
            APPROVAL_ENDPOINT,
            format!("expected HTTP 200, got {status}"),
        )),
    }
}

/// Parses a 200 response of `GET /sdk/approvals/{id}`.
pub(crate) fn parse_state(body: &[u8]) -> Result<ApprovalState, Error> {
    let malformed = |reason: &str| Error::malformed(APPROVAL_ENDPOINT, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let approval_id =
        text("approval_id").ok_or_else(|| malformed("`approval_id` must be a non-empty string"))?;
    let status = object
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("`status` must be a string"))?;
    let status = ApprovalStatus::parse(status).ok_or_else(|| {
        malformed(&format!(
            "unexpected approval status `{}`",
            status.chars().take(64).collect::<String>()
        ))
    })?;
    let has_result = object
        .get("has_result")
        .and_then(Value::as_bool)
        .ok_or_else(|| malformed("`has_result` must be a boolean"))?;
    let gates = parse_gates(object.get("gates")).map_err(|reason| malformed(&reason))?;
    Ok(ApprovalState {
        approval_id,
        status,
        approval_group_id: text("approval_group_id"),
        gates,
        expires_at: text("expires_at"),
        decided_at: text("decided_at"),
        decision_reason: text("decision_reason"),
        executed_at: text("executed_at"),
        execution_error: text("execution_error"),
        has_result,
    })
}

/// Parses a `gates` list; absent or null is an empty list.
pub(crate) fn parse_gates(value: Option<&Value>) -> Result<Vec<ApprovalGate>, String> {
    let entries = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err("`gates` must be a list".to_owned()),
    };
    entries
        .iter()
        .map(|entry| {
            let object = entry
                .as_object()
                .ok_or_else(|| "each gate must be an object".to_owned())?;
            let text = |key: &str| {
                object
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|text| !text.is_empty())
                    .map(str::to_owned)
            };
            Ok(ApprovalGate {
                approval_id: text("approval_id"),
                status: text("status"),
                expires_at: text("expires_at"),
                expires_in: object.get("expires_in").and_then(Value::as_u64),
                approval_url: text("approval_url"),
                decided_at: text("decided_at"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn state_parses_every_field() {
        let state = parse_state(
            br#"{"approval_id":"a","status":"denied","approval_group_id":"g","gates":[{"approval_id":"a","status":"denied","approval_url":"https://x"}],"expires_at":"t","decided_at":"d","decision_reason":"no","executed_at":null,"execution_error":null,"has_result":false}"#,
        )
        .unwrap();
        assert_eq!(state.status, ApprovalStatus::Denied);
        assert_eq!(state.decision_reason.as_deref(), Some("no"));
        assert_eq!(state.gates[0].approval_url.as_deref(), Some("https://x"));
        assert_eq!(state.gates[0].status.as_deref(), Some("denied"));
        assert!(!state.has_result);
    }

    #[test]
    fn state_shape_errors() {
        let cases: [&[u8]; 5] = [
            br#"{"status":"pending","has_result":false}"#,
            br#"{"approval_id":"a","status":"maybe","has_result":false}"#,
            br#"{"approval_id":"a","status":"pending"}"#,
            br#"{"approval_id":"a","status":"pending","has_result":"no"}"#,
            br#"{"approval_id":"a","status":"pending","has_result":false,"gates":[1]}"#,
        ];
        for body in cases {
            assert!(
                matches!(parse_state(body), Err(Error::MalformedResponse { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn approval_id_must_be_uuid() {
        assert!(check_approval_id("0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21").is_ok());
        for id in ["", "../sdk/token", "0B7E5A52-3C1D-4E2F-9A8B-7C6D5E4F3A21"] {
            assert!(check_approval_id(id).is_err(), "{id}");
        }
    }

    #[test]
    fn gateway_errors_are_transient() {
        let backend = |status| Error::Backend(crate::error::BackendError::new(status, None, "x"));
        assert!(is_transient(&backend(502)));
        assert!(is_transient(&backend(504)));
        assert!(!is_transient(&backend(500)));
        assert!(!is_transient(&backend(422)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_state(&body);
        }
    }
}
