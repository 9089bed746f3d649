//! `POST /sdk/grants/{id}/report-scope-mismatch`: a client reports that the provider rejected
//! a grant's token for lacking scopes. DevVault stores the report and flags the grant, so
//! later token responses carry `scope_mismatch: true` until a connect session re-authorizes
//! it.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use super::body::{JsonObject, str_list, wrong_type};
use super::errors::ApiError;
use super::server::DevState;
use super::wire::code;

/// Reports kept; older ones are dropped first.
const MAX_REPORTS: usize = 1000;

/// One scope-mismatch report, as [`DevVault::scope_mismatch_reports`] returns it.
///
/// [`DevVault::scope_mismatch_reports`]: super::DevVault::scope_mismatch_reports
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopeMismatchReport {
    /// The grant the provider rejected.
    pub grant_id: Uuid,
    /// The DevVault user who owns the grant.
    pub user: String,
    /// The grant's provider.
    pub provider_id: String,
    /// The provider's HTTP status, 403.
    pub provider_status_code: u16,
    /// The provider's error code, `insufficient_scope`.
    pub provider_error_code: String,
    /// The scopes the provider named, when it named any.
    pub missing_scopes: Option<Vec<String>>,
    /// The provider's `WWW-Authenticate` header.
    pub raw_www_authenticate: String,
    /// The provider URL called, without its query.
    pub api_endpoint: String,
    /// The client's detection method, e.g. `www_authenticate_rfc6750`.
    pub detection_source: String,
    /// The client's id for the report.
    pub sdk_correlation_id: String,
    /// When DevVault received the report.
    pub received_at: SystemTime,
}

/// Received reports and the grants they flag.
#[derive(Debug, Default)]
pub(super) struct ScopeReports {
    state: Mutex<ReportState>,
}

#[derive(Debug, Default)]
struct ReportState {
    reports: VecDeque<ScopeMismatchReport>,
    flagged: HashSet<Uuid>,
}

impl ScopeReports {
    /// Returns whether a report flags `grant_id`.
    pub(super) fn is_flagged(&self, grant_id: Uuid) -> bool {
        self.lock().flagged.contains(&grant_id)
    }

    /// Clears the flag of a grant the user authorized again.
    pub(super) fn clear(&self, grant_id: Uuid) {
        self.lock().flagged.remove(&grant_id);
    }

    /// Returns every report kept, oldest first.
    pub(super) fn all(&self) -> Vec<ScopeMismatchReport> {
        self.lock().reports.iter().cloned().collect()
    }

    fn record(&self, report: ScopeMismatchReport) {
        let mut state = self.lock();
        state.flagged.insert(report.grant_id);
        if state.reports.len() == MAX_REPORTS {
            state.reports.pop_front();
        }
        state.reports.push_back(report);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReportState> {
        self.state.lock().expect("scope report lock poisoned")
    }
}

/// `POST /sdk/grants/{id}/report-scope-mismatch`: returns 204 once the report is stored.
pub(super) async fn report(
    State(state): State<Arc<DevState>>,
    grant_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Ok(Path(grant_id)) = grant_id else {
        return Err(ApiError::invalid_request("the grant id is not valid UTF-8"));
    };
    let grant = Uuid::try_parse(&grant_id)
        .ok()
        .and_then(|id| state.store.get(id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                code::GRANT_NOT_FOUND,
                format!("no grant {grant_id:?} to report"),
            )
            .with("grant_id", grant_id.as_str())
        })?;
    let body = JsonObject::parse(&body)?;
    let status = match body.get("provider_status_code") {
        Some(Value::Number(number)) => number
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .filter(|status| (100..=599).contains(status)),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::invalid_request("field `provider_status_code` must be an HTTP status code")
    })?;
    let missing_scopes = match body.get("missing_scopes") {
        None | Some(Value::Null) => None,
        Some(value @ Value::Array(_)) => Some(str_list("missing_scopes", value)?),
        Some(other) => return Err(wrong_type("missing_scopes", "a list or null", other)),
    };
    let text = |key: &str| body.required_str(key).map(str::to_owned);
    let report = ScopeMismatchReport {
        grant_id: grant.id,
        user: grant.user.clone(),
        provider_id: grant.provider_id.clone(),
        provider_status_code: status,
        provider_error_code: text("provider_error_code")?,
        missing_scopes,
        raw_www_authenticate: text("raw_www_authenticate")?,
        api_endpoint: text("api_endpoint")?,
        detection_source: text("detection_source")?,
        sdk_correlation_id: text("sdk_correlation_id")?,
        received_at: SystemTime::now(),
    };
    tracing::debug!(
        target: "alter::dev::scope_report",
        grant_id = %grant.id,
        correlation_id = %report.sdk_correlation_id,
        "recorded a scope-mismatch report"
    );
    state.scope_reports.record(report);
    Ok(StatusCode::NO_CONTENT)
}
