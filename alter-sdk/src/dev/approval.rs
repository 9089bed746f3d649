//! Approvals of proxy calls: when [`DevVault::set_require_approval`] is on, `/sdk/proxy` holds
//! each call until a test (or a person on the approval page) grants or denies it, or it
//! expires.
//!
//! ```text
//! GET  /sdk/approvals/{id}[?wait=N]   the approval's state, held open up to N ≤ 25 seconds
//! GET  /sdk/approvals/{id}/result     the provider response of an executed approval
//! GET  /approvals/{id}                the approval page; with auto-approve, grants at once
//! POST /approvals/{id}                decision=approve|deny, reason=…
//! ```
//!
//! Granting executes the call at once, so the approval moves from `pending` through
//! `executing` to `executed` (or `failed` when the provider call fails).
//!
//! [`DevVault::set_require_approval`]: super::DevVault::set_require_approval

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

use super::clock::{rfc3339, unix_now};
use super::errors::ApiError;
use super::form;
use super::html::Page;
use super::proxy::{ProxyCall, execute};
use super::server::DevState;
use super::store::StoredGrant;
use super::verify::SignedCaller;
use super::wire::code;
use crate::protocol::proxy::MAX_APPROVAL_WAIT_SECS;

/// The lifecycle state of an approval, spelled as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Executing,
    Denied,
    Expired,
    Executed,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Executing => "executing",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Executed => "executed",
            Self::Failed => "failed",
        }
    }
}

/// A held proxy call, as [`DevVault::approvals`](super::DevVault::approvals) lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyApproval {
    /// The approval id the client polls.
    pub approval_id: Uuid,
    /// `pending`, `executing`, `denied`, `expired`, `executed` or `failed`.
    pub status: String,
    /// The user whose grant the call uses.
    pub user: String,
    /// The provider.
    pub provider_id: String,
    /// The provider request's method.
    pub method: String,
    /// The provider request's URL, without the query parameters sent separately.
    pub url: String,
    /// The reason the caller gave.
    pub reason: Option<String>,
}

#[derive(Debug)]
struct Approval {
    group_id: Uuid,
    grant: StoredGrant,
    call: ProxyCall,
    caller: SignedCaller,
    status: Status,
    /// Unix seconds.
    expires_at: u64,
    decided_at: Option<u64>,
    decision_reason: Option<String>,
    executed_at: Option<u64>,
    execution_error: Option<String>,
    result: Option<Value>,
}

impl Approval {
    /// Turns a pending approval whose time ran out into an expired one.
    fn expire_if_due(&mut self, now: u64) {
        if self.status == Status::Pending && now >= self.expires_at {
            self.status = Status::Expired;
        }
    }
}

/// Every approval, the switch that requires them, and the signal that wakes long polls.
#[derive(Debug)]
pub(super) struct Approvals {
    required: AtomicBool,
    lifetime: Duration,
    auto_approve: bool,
    state: Mutex<HashMap<Uuid, Approval>>,
    changed: Notify,
}

/// The reason a decision failed.
#[derive(Debug)]
pub(super) enum DecisionError {
    NotFound,
    AlreadyDecided(&'static str),
}

impl Approvals {
    /// Creates the store; `required` sets whether proxy calls wait for approval.
    pub(super) fn new(required: bool, lifetime: Duration, auto_approve: bool) -> Self {
        Self {
            required: AtomicBool::new(required),
            lifetime,
            auto_approve,
            state: Mutex::default(),
            changed: Notify::new(),
        }
    }

    /// Returns whether proxy calls wait for approval.
    pub(super) fn required(&self) -> bool {
        self.required.load(Ordering::Relaxed)
    }

    /// Sets whether later proxy calls wait for approval.
    pub(super) fn set_required(&self, required: bool) {
        self.required.store(required, Ordering::Relaxed);
    }

    /// Holds `call` and returns the 202 body that announces the approval.
    pub(super) fn create(
        &self,
        grant: &StoredGrant,
        call: ProxyCall,
        caller: SignedCaller,
    ) -> Value {
        let id = Uuid::new_v4();
        let group_id = Uuid::new_v4();
        let expires_at = unix_now().saturating_add(self.lifetime.as_secs());
        self.lock().insert(
            id,
            Approval {
                group_id,
                grant: grant.clone(),
                call,
                caller,
                status: Status::Pending,
                expires_at,
                decided_at: None,
                decision_reason: None,
                executed_at: None,
                execution_error: None,
                result: None,
            },
        );
        let gate = gate(id, expires_at, self.lifetime.as_secs());
        json!({
            "approval_id": id.to_string(),
            "approval_group_id": group_id.to_string(),
            "status": "pending",
            "expires_at": rfc3339(expires_at),
            "expires_in": self.lifetime.as_secs(),
            "approval_url": gate["approval_url"],
            "gates": [gate],
        })
    }

    /// Lists every approval, pending ones first.
    pub(super) fn list(&self) -> Vec<ProxyApproval> {
        let now = unix_now();
        let mut state = self.lock();
        let mut approvals: Vec<ProxyApproval> = state
            .iter_mut()
            .map(|(id, approval)| {
                approval.expire_if_due(now);
                ProxyApproval {
                    approval_id: *id,
                    status: approval.status.as_str().to_owned(),
                    user: approval.grant.user.clone(),
                    provider_id: approval.grant.provider_id.clone(),
                    method: approval.call.method.to_string(),
                    url: approval.call.url.to_string(),
                    reason: approval.call.reason.clone(),
                }
            })
            .collect();
        approvals.sort_by_key(|approval| approval.status != "pending");
        approvals
    }

    /// Grants a pending approval and executes its call.
    pub(super) async fn grant(&self, state: &DevState, id: Uuid) -> Result<(), DecisionError> {
        let (grant, call, caller) = {
            let mut approvals = self.lock();
            let approval = approvals.get_mut(&id).ok_or(DecisionError::NotFound)?;
            approval.expire_if_due(unix_now());
            if approval.status != Status::Pending {
                return Err(DecisionError::AlreadyDecided(approval.status.as_str()));
            }
            approval.status = Status::Executing;
            approval.decided_at = Some(unix_now());
            (
                approval.grant.clone(),
                approval.call.clone(),
                approval.caller.clone(),
            )
        };
        self.changed.notify_waiters();

        let outcome = execute(state, grant, &call, &caller, Some(id)).await;
        if let Some(approval) = self.lock().get_mut(&id) {
            approval.executed_at = Some(unix_now());
            match outcome {
                Ok(result) => {
                    approval.status = Status::Executed;
                    approval.result = Some(result);
                }
                Err(error) => {
                    approval.status = Status::Failed;
                    approval.execution_error = Some(error.message().to_owned());
                }
            }
        }
        self.changed.notify_waiters();
        Ok(())
    }

    /// Denies a pending approval with `reason`.
    pub(super) fn deny(&self, id: Uuid, reason: &str) -> Result<(), DecisionError> {
        self.decide(id, |approval| {
            approval.status = Status::Denied;
            approval.decided_at = Some(unix_now());
            approval.decision_reason = Some(reason.to_owned());
        })
    }

    /// Makes a pending approval expire now.
    pub(super) fn expire(&self, id: Uuid) -> Result<(), DecisionError> {
        self.decide(id, |approval| approval.status = Status::Expired)
    }

    fn decide(&self, id: Uuid, apply: impl FnOnce(&mut Approval)) -> Result<(), DecisionError> {
        {
            let mut approvals = self.lock();
            let approval = approvals.get_mut(&id).ok_or(DecisionError::NotFound)?;
            approval.expire_if_due(unix_now());
            if approval.status != Status::Pending {
                return Err(DecisionError::AlreadyDecided(approval.status.as_str()));
            }
            apply(approval);
        }
        self.changed.notify_waiters();
        Ok(())
    }

    /// Returns the approval's state body once its status differs from `seen`, or when `wait`
    /// elapses; `None` for an unknown id.
    async fn wait_for_change(&self, id: Uuid, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = None;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let (status, expires_at) = {
                let now = unix_now();
                let mut approvals = self.lock();
                let approval = approvals.get_mut(&id)?;
                approval.expire_if_due(now);
                (approval.status, approval.expires_at)
            };
            let first = *seen.get_or_insert(status);
            let open = matches!(status, Status::Pending | Status::Executing);
            if status != first || !open || tokio::time::Instant::now() >= deadline {
                return self.state_body(id);
            }
            let until_expiry = Duration::from_secs(expires_at.saturating_sub(unix_now()));
            let wake_at = deadline.min(tokio::time::Instant::now() + until_expiry);
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    fn state_body(&self, id: Uuid) -> Option<Value> {
        let approvals = self.lock();
        let approval = approvals.get(&id)?;
        Some(json!({
            "approval_id": id.to_string(),
            "status": approval.status.as_str(),
            "approval_group_id": approval.group_id.to_string(),
            "gates": [{
                "approval_id": id.to_string(),
                "status": approval.status.as_str(),
                "expires_at": rfc3339(approval.expires_at),
                "decided_at": approval.decided_at.map(rfc3339),
            }],
            "expires_at": rfc3339(approval.expires_at),
            "decided_at": approval.decided_at.map(rfc3339),
            "decision_reason": approval.decision_reason,
            "executed_at": approval.executed_at.map(rfc3339),
            "execution_error": approval.execution_error,
            "has_result": approval.result.is_some(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Approval>> {
        self.state.lock().expect("approval lock poisoned")
    }
}

/// Builds the one gate of a DevVault approval.
fn gate(id: Uuid, expires_at: u64, expires_in: u64) -> Value {
    json!({
        "approval_id": id.to_string(),
        "expires_at": rfc3339(expires_at),
        "expires_in": expires_in,
        "approval_url": format!("/approvals/{id}"),
    })
}

/// `GET /sdk/approvals/{id}[?wait=N]`.
pub(super) async fn status(
    State(state): State<Arc<DevState>>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let id = approval_id(id)?;
    let wait = wait_secs(&uri)?;
    let body = state
        .approvals
        .wait_for_change(id, wait)
        .await
        .ok_or_else(|| not_found(id))?;
    Ok(Json(body))
}

/// `GET /sdk/approvals/{id}/result`.
pub(super) async fn result(
    State(state): State<Arc<DevState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = approval_id(id)?;
    let now = unix_now();
    let mut approvals = state.approvals.lock();
    let approval = approvals.get_mut(&id).ok_or_else(|| not_found(id))?;
    approval.expire_if_due(now);
    let error = |status, code: &str, message: String| {
        ApiError::new(status, code, message).with("approval_id", id.to_string())
    };
    match approval.status {
        Status::Executed => Ok(Json(approval.result.clone().unwrap_or(Value::Null))),
        Status::Denied => Err(error(
            StatusCode::FORBIDDEN,
            code::APPROVAL_DENIED,
            approval
                .decision_reason
                .clone()
                .unwrap_or_else(|| "an approver denied the call".into()),
        )),
        Status::Expired => Err(error(
            StatusCode::GONE,
            code::APPROVAL_EXPIRED,
            "nobody decided before the approval expired".into(),
        )),
        Status::Failed => Err(error(
            StatusCode::BAD_GATEWAY,
            code::APPROVAL_EXECUTION_FAILED,
            approval
                .execution_error
                .clone()
                .unwrap_or_else(|| "the call failed".into()),
        )),
        Status::Pending | Status::Executing => Err(error(
            StatusCode::CONFLICT,
            code::APPROVAL_PENDING,
            format!(
                "the approval is {}; poll GET /sdk/approvals/{id} until it is executed",
                approval.status.as_str()
            ),
        )),
    }
}

/// `GET /approvals/{id}`: the decision form, or with auto-approve an immediate grant.
pub(super) async fn page(
    State(state): State<Arc<DevState>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(id) = approval_id(id) else {
        return unknown_page();
    };
    if state.approvals.auto_approve {
        return decided_page(state.approvals.grant(&state, id).await, "approved");
    }
    let summary = state
        .approvals
        .list()
        .into_iter()
        .find(|approval| approval.approval_id == id);
    let Some(summary) = summary else {
        return unknown_page();
    };
    if summary.status != "pending" {
        return Page::new("Already decided")
            .paragraph(&format!("This approval is already {}.", summary.status))
            .render(StatusCode::CONFLICT);
    }
    let form = format!(
        concat!(
            r#"<form method="post" action="/approvals/{id}">"#,
            r#"<p><label>Reason <input name="reason"></label></p>"#,
            r#"<p><button name="decision" value="approve">Approve</button> "#,
            r#"<button name="decision" value="deny" class="secondary">Deny</button></p></form>"#
        ),
        id = id,
    );
    let reason = summary
        .reason
        .map_or(String::new(), |reason| format!(" Reason given: {reason}."));
    Page::new("Approve a request")
        .paragraph(&format!(
            "An app asks to send {} {} with {}'s {} grant.{reason}",
            summary.method, summary.url, summary.user, summary.provider_id
        ))
        .push_html(&form)
        .render(StatusCode::OK)
}

/// `POST /approvals/{id}` with `decision` and `reason`.
pub(super) async fn decide(
    State(state): State<Arc<DevState>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::unreadable_body(&rejection).into_response(),
    };
    let Ok(id) = approval_id(id) else {
        return unknown_page();
    };
    let params = form::parse(&body);
    let reason = params
        .get("reason")
        .map(|reason| reason.trim())
        .filter(|reason| !reason.is_empty())
        .unwrap_or("denied on the approval page");
    match params.get("decision").map(String::as_str) {
        Some("approve") => decided_page(state.approvals.grant(&state, id).await, "approved"),
        Some("deny") => decided_page(state.approvals.deny(id, reason), "denied"),
        _ => Page::new("No decision")
            .paragraph("Choose Approve or Deny.")
            .render(StatusCode::BAD_REQUEST),
    }
}

fn decided_page(outcome: Result<(), DecisionError>, verb: &str) -> Response {
    match outcome {
        Ok(()) => Page::new("Decision recorded")
            .paragraph(&format!(
                "The request was {verb}. You can close this window."
            ))
            .render(StatusCode::OK),
        Err(DecisionError::NotFound) => unknown_page(),
        Err(DecisionError::AlreadyDecided(status)) => Page::new("Already decided")
            .paragraph(&format!("This approval is already {status}."))
            .render(StatusCode::CONFLICT),
    }
}

fn unknown_page() -> Response {
    Page::new("Unknown approval")
        .paragraph("This approval link is not valid.")
        .render(StatusCode::NOT_FOUND)
}

/// Prefixes the relative approval URLs of a 202 body with DevVault's base URL.
pub(super) fn absolute_pending_urls(state: &DevState, body: &mut Value) {
    if let Some(gates) = body.get_mut("gates").and_then(Value::as_array_mut) {
        for gate in gates {
            if let Some(url) = gate.get("approval_url").and_then(Value::as_str) {
                gate["approval_url"] = Value::String(format!("{}{url}", state.base_url));
            }
        }
    }
    if let Some(url) = body.get("approval_url").and_then(Value::as_str) {
        body["approval_url"] = Value::String(format!("{}{url}", state.base_url));
    }
}

fn approval_id(id: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let Ok(Path(text)) = id else {
        return Err(ApiError::invalid_request(
            "the approval id is not valid UTF-8",
        ));
    };
    Uuid::try_parse(&text).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code::APPROVAL_NOT_FOUND,
            "the approval id is not a UUID",
        )
    })
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::APPROVAL_NOT_FOUND,
        format!("no approval {id}"),
    )
    .with("approval_id", id.to_string())
}

/// Reads `wait`: absent or whole seconds from 0 to 25; anything else gets 422.
fn wait_secs(uri: &Uri) -> Result<Duration, ApiError> {
    let Some(text) = form::query(uri).remove("wait") else {
        return Ok(Duration::ZERO);
    };
    text.parse::<u64>()
        .ok()
        .filter(|secs| *secs <= MAX_APPROVAL_WAIT_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_REQUEST,
                format!("wait must be whole seconds from 0 to {MAX_APPROVAL_WAIT_SECS}"),
            )
        })
}

/// Maps a failed decision to an error for the `DevVault` API.
pub(super) fn decision_error(id: Uuid, error: DecisionError) -> crate::error::Error {
    match error {
        DecisionError::NotFound => {
            crate::error::Error::invalid_request(format!("no DevVault approval has the id {id}"))
        }
        DecisionError::AlreadyDecided(status) => {
            crate::error::Error::invalid_request(format!("the approval {id} is already {status}"))
        }
    }
}
