//! Maps the backend's error responses (status ≥ 400) to [`Error`].
//!
//! The body is first normalised to a JSON object, the `details` every backend-mapped error
//! carries:
//!
//! - a body that is not JSON becomes `{"message": <text naming the status>, "status_code": n}`;
//! - JSON that is not an object becomes `{"message": <generic text>, "status_code": n}`;
//! - an object whose `detail` is an object (the FastAPI error envelope) becomes that inner object
//!   plus `status_code`;
//! - any other object gets `status_code` added.
//!
//! The error code is the string `error` of the normalised body, and the message is its
//! `message` when that is a non-empty string, otherwise a fixed text for the error kind. The
//! status then selects the variant, first by status and then by code. A 429 whose body is not
//! JSON is the one exception to normalising: it comes from a proxy in front of the backend, so its
//! details are exactly `{"status_code": 429}`.

use std::time::Duration;

use http::HeaderMap;
use http::header::RETRY_AFTER;
use serde_json::{Map, Value};

use crate::error::{
    AgentError, AgentErrorKind, AmbiguousGrant, BackendError, ConnectError, ConnectErrorKind,
    Error, GrantCandidate, GrantError, GrantNotDelegable, InsufficientScope, KeyRejected,
    KeyRejectedKind, ManagedSecretError, ManagedSecretErrorKind, RateLimit, ScopeReauth,
    StepUpRequired,
};

/// The maximum delay, in seconds, a rate-limit response may request: one hour.
pub const RATE_LIMIT_RETRY_CAP_SECS: u64 = 3600;

/// The maximum delay, in seconds, a quota response may request: 31 days.
pub const QUOTA_RETRY_CAP_SECS: u64 = 2_678_400;

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Maps a backend error response to the matching [`Error`] variant.
///
/// `status` is the HTTP status (the caller only passes statuses ≥ 400), `headers` the response
/// headers (`Retry-After` and `X-Request-ID` are read) and `body` the raw response body.
pub fn map_error_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let parsed = serde_json::from_slice::<Value>(body);

    if status == 429 && parsed.is_err() {
        let mut details = Map::new();
        details.insert("status_code".into(), Value::from(status));
        let backend = BackendError {
            status,
            code: None,
            message: "rate limited by a proxy in front of the backend (HTTP 429 without a JSON \
                      body); retry after the delay it sent"
                .into(),
            details,
            request_id,
        };
        return Error::RateLimited(RateLimit {
            backend,
            retry_after: header_retry_after(headers, RATE_LIMIT_RETRY_CAP_SECS)
                .map(Duration::from_secs),
            scope: None,
            limit: None,
            window_seconds: None,
        });
    }

    let response = ErrorResponse {
        status,
        details: normalise_body(status, parsed.ok()),
        request_id,
    };
    match status {
        403 => map_forbidden(response),
        409 => map_conflict(response),
        410 => Error::GrantDeleted(GrantError::from_backend(
            response.into_backend("the grant was deleted; authorizing again issues a new grant id"),
        )),
        404 => map_not_found(response),
        400 | 502 => map_bad_request(response),
        401 => map_unauthorized(response),
        429 => map_too_many_requests(response, headers),
        500 | 503 => map_server_error(response, headers),
        _ => map_other(response),
    }
}

/// Returns the `Retry-After` header in whole seconds, clamped to `cap`, when it is a plain
/// number of seconds.
///
/// Surrounding whitespace and leading zeros are ignored, and a number with more digits than `cap`
/// is clamped without being parsed. The HTTP-date form is ignored.
pub fn header_retry_after(headers: &HeaderMap, cap: u64) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = value.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    if significant.len() > decimal_digits(cap) {
        return Some(cap);
    }
    // At most as many digits as `cap`, which is a `u64`, so this cannot overflow.
    significant
        .parse::<u64>()
        .ok()
        .map(|seconds| seconds.min(cap))
}

fn decimal_digits(mut value: u64) -> usize {
    let mut digits = 1;
    while value >= 10 {
        value /= 10;
        digits += 1;
    }
    digits
}

/// Reads the body's `retry_after`: a non-negative integral number (`60` or `60.0`), clamped.
fn body_retry_after(details: &Map<String, Value>, cap: u64) -> Option<u64> {
    let Value::Number(number) = details.get("retry_after")? else {
        return None;
    };
    if let Some(seconds) = number.as_u64() {
        return Some(seconds.min(cap));
    }
    let seconds = number.as_f64()?;
    if !seconds.is_finite() || seconds < 0.0 || seconds.fract() != 0.0 {
        return None;
    }
    // `cap` is far below 2^53, so comparing in f64 is exact.
    if seconds >= cap as f64 {
        Some(cap)
    } else {
        Some(seconds as u64)
    }
}

fn resolve_retry_after(
    headers: &HeaderMap,
    details: &Map<String, Value>,
    cap: u64,
) -> Option<Duration> {
    header_retry_after(headers, cap)
        .or_else(|| body_retry_after(details, cap))
        .map(Duration::from_secs)
}

fn normalise_body(status: u16, body: Option<Value>) -> Map<String, Value> {
    let mut details = match body {
        None => message_only(format!(
            "the backend returned HTTP {status} with a body that is not JSON"
        )),
        Some(Value::Object(mut object)) => {
            let envelope = object
                .get_mut("detail")
                .and_then(Value::as_object_mut)
                .map(std::mem::take);
            envelope.unwrap_or(object)
        }
        Some(_) => message_only(format!(
            "the backend returned HTTP {status} with a JSON body that is not an object"
        )),
    };
    details.insert("status_code".into(), Value::from(status));
    details
}

fn message_only(message: String) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("message".into(), Value::String(message));
    details
}

/// A normalised error response on its way to an [`Error`].
struct ErrorResponse {
    status: u16,
    details: Map<String, Value>,
    request_id: Option<String>,
}

impl ErrorResponse {
    fn code(&self) -> Option<&str> {
        self.details.get("error").and_then(Value::as_str)
    }

    fn into_backend(self, default_message: &str) -> BackendError {
        let message = match self.details.get("message") {
            Some(Value::String(message)) if !message.is_empty() => message.clone(),
            _ => default_message.to_owned(),
        };
        BackendError {
            status: self.status,
            code: self.code().map(str::to_owned),
            message,
            details: self.details,
            request_id: self.request_id,
        }
    }
}

fn map_forbidden(response: ErrorResponse) -> Error {
    match response.code() {
        Some("insufficient_scope") => map_insufficient_scope(response),
        Some("grant_expired") => Error::GrantExpired(GrantError::from_backend(
            response.into_backend("the grant expired; the user must authorize again"),
        )),
        Some("grant_revoked") => map_grant_revoked(response),
        Some("credential_revoked") => map_credential_revoked(response),
        Some("restricted_grant_requires_proxy") => {
            Error::RestrictedGrantRequiresProxy(response.into_backend(
                "this grant has method or endpoint restrictions, so it can only be used through \
                 proxy mode",
            ))
        }
        Some("grant_not_delegable") => {
            let detail_reason = ["detail_reason", "reason"]
                .iter()
                .find_map(|key| string_field(&response.details, key));
            // NOTE: no recorded backend response shows which key carries the reason; both
            // `detail_reason` and `reason` are read, in that order.
            Error::GrantNotDelegable(GrantNotDelegable {
                backend: response.into_backend("this grant cannot be delegated to an agent"),
                detail_reason,
            })
        }
        Some("scope_mismatch") => map_scope_mismatch(response),
        Some("step_up_required") => {
            let max_session_age_seconds =
                unsigned_field(&response.details, "max_session_age_seconds");
            Error::StepUpRequired(StepUpRequired {
                backend: response
                    .into_backend("a policy requires the user to sign in again before this call"),
                max_session_age_seconds,
            })
        }
        Some("redact_discharge_failed") => Error::RedactDischargeFailed(
            response.into_backend("a policy requires redacting the response, and redaction failed"),
        ),
        _ => Error::PolicyViolation(response.into_backend("a policy rule denied the request")),
    }
}

fn map_conflict(response: ErrorResponse) -> Error {
    match response.code() {
        Some(
            "managed_oauth_scope_approval_required"
            | "idp_signin_not_configured"
            | "no_eligible_grants"
            | "binding_hosts_required"
            | "provider_contract_repair_required",
        ) => map_connect_config(response),
        Some("token_refresh_in_progress") => {
            Error::TokenRefreshInProgress(GrantError::from_backend(
                response
                    .into_backend("a token refresh for this grant is in progress; retry shortly"),
            ))
        }
        Some("ambiguous_grant") => map_ambiguous_grant(response),
        Some("sibling_label_conflict") => {
            map_managed_secret(response, ManagedSecretErrorKind::SiblingLabelConflict)
        }
        Some("credential_id_required") => {
            map_managed_secret(response, ManagedSecretErrorKind::CredentialIdRequired)
        }
        Some("end_user_credential_not_assignable") => map_managed_secret(
            response,
            ManagedSecretErrorKind::EndUserCredentialNotAssignable,
        ),
        Some("no_delegated_grant") => map_no_delegated_grant(response),
        _ => map_generic(response),
    }
}

fn map_not_found(response: ErrorResponse) -> Error {
    match response.code() {
        Some("no_delegated_grant") => map_no_delegated_grant(response),
        Some("caller_agent_unresolved" | "agent_not_found") => {
            map_agent(response, AgentErrorKind::NotFound)
        }
        Some("secret_not_found") => map_connect_config(response),
        _ => Error::GrantNotFound(GrantError::from_backend(
            response.into_backend("no grant matches this request"),
        )),
    }
}

fn map_bad_request(response: ErrorResponse) -> Error {
    match response.code() {
        Some("caller_agent_mismatch") => map_agent(response, AgentErrorKind::CallerMismatch),
        Some("grant_revoked") => map_grant_revoked(response),
        Some("credential_revoked") => map_credential_revoked(response),
        Some(
            "restricted_grant_requires_proxy"
            | "delegated_grant_requires_proxy"
            | "hitl_grant_requires_proxy"
            | "user_limits_require_proxy",
        ) => Error::RestrictedGrantRequiresProxy(response.into_backend(
            "this grant is restricted, delegated, scope-narrowed, needs approval or has a usage \
             limit, so it can only be used through proxy mode",
        )),
        _ => map_generic(response),
    }
}

fn map_unauthorized(response: ErrorResponse) -> Error {
    let key_kind = match response.code() {
        Some("jwt_validation_error") => {
            return Error::UserTokenRejected(
                response.into_backend("the user token is invalid or expired; sign in again"),
            );
        }
        Some("agent_inactive") => return map_agent(response, AgentErrorKind::Inactive),
        Some("agent_revoked") => return map_agent(response, AgentErrorKind::Revoked),
        Some("invalid_key") => KeyRejectedKind::Invalid,
        Some("key_revoked") => KeyRejectedKind::Revoked,
        Some("key_expired") => KeyRejectedKind::Expired,
        Some("key_rotated_grace_expired") => KeyRejectedKind::RotationGraceExpired,
        Some("key_not_active") => KeyRejectedKind::Inactive,
        _ => return map_generic(response),
    };
    let default_message = match key_kind {
        KeyRejectedKind::Invalid => "the backend does not recognise this API key",
        KeyRejectedKind::Revoked => "the API key was revoked",
        KeyRejectedKind::Expired => "the API key expired",
        KeyRejectedKind::RotationGraceExpired => {
            "the API key was rotated and its grace period ended; use the new key"
        }
        KeyRejectedKind::Inactive => "the API key is not active",
    };
    let hint = string_field(&response.details, "hint");
    Error::KeyRejected(KeyRejected {
        kind: key_kind,
        backend: response.into_backend(default_message),
        hint,
    })
}

fn map_too_many_requests(response: ErrorResponse, headers: &HeaderMap) -> Error {
    let (cap, quota) = match response.code() {
        Some("rate_limit_exceeded") => (RATE_LIMIT_RETRY_CAP_SECS, false),
        Some("quota_exceeded") => (QUOTA_RETRY_CAP_SECS, true),
        _ => return map_other(response),
    };
    let retry_after = resolve_retry_after(headers, &response.details, cap);
    let scope = string_field(&response.details, "scope")
        .filter(|scope| matches!(scope.as_str(), "ip" | "api_key" | "organization"));
    let limit = unsigned_field(&response.details, "limit");
    let window_seconds = unsigned_field(&response.details, "window_seconds");
    let default_message = if quota {
        "the request quota for the current window is used up"
    } else {
        "rate limit exceeded; retry after the window resets"
    };
    let rate_limit = RateLimit {
        backend: response.into_backend(default_message),
        retry_after,
        scope,
        limit,
        window_seconds,
    };
    if quota {
        Error::QuotaExceeded(rate_limit)
    } else {
        Error::RateLimited(rate_limit)
    }
}

fn map_server_error(mut response: ErrorResponse, headers: &HeaderMap) -> Error {
    if let Some(seconds) = header_retry_after(headers, QUOTA_RETRY_CAP_SECS) {
        response
            .details
            .insert("retry_after_seconds".into(), Value::from(seconds));
    }
    match response.code() {
        Some("caller_agent_resolution_error") => {
            map_agent(response, AgentErrorKind::CallerResolution)
        }
        Some("app_not_found_for_key") => map_agent(response, AgentErrorKind::KeyAppNotFound),
        _ => map_generic(response),
    }
}

/// Maps statuses without their own rows, and 429 responses with an unknown code.
fn map_other(response: ErrorResponse) -> Error {
    match response.code() {
        Some("secret_template_mismatch") => map_connect_config(response),
        Some("blocked_destination") => {
            let mut backend = response.into_backend("");
            // The backend's own text may describe its internal allow list, so a fixed message
            // replaces it; the request id lets support find the decision.
            backend.message =
                "the destination is not permitted; check the provider host and URL".into();
            if let Some(request_id) = &backend.request_id {
                backend
                    .details
                    .insert("request_id".into(), Value::String(request_id.clone()));
            }
            Error::BlockedDestination(backend)
        }
        _ => map_generic(response),
    }
}

fn map_generic(response: ErrorResponse) -> Error {
    let default_message = match response.status {
        502 | 503 => format!(
            "the backend is unavailable (HTTP {}); retry later",
            response.status
        ),
        504 => "the backend timed out (HTTP 504); retry later".to_owned(),
        status => format!("unexpected backend error (HTTP {status})"),
    };
    Error::Backend(response.into_backend(&default_message))
}

fn map_grant_revoked(response: ErrorResponse) -> Error {
    Error::GrantRevoked(GrantError::from_backend(
        response.into_backend("the grant was revoked; the user must authorize again"),
    ))
}

fn map_credential_revoked(response: ErrorResponse) -> Error {
    Error::CredentialRevoked(GrantError::from_backend(response.into_backend(
        "the provider connection was revoked; the user must authorize again",
    )))
}

fn map_no_delegated_grant(response: ErrorResponse) -> Error {
    Error::NoDelegatedGrant(GrantError::from_backend(response.into_backend(
        "no delegation or managed-secret grant gives this agent access to the provider",
    )))
}

fn map_connect_config(response: ErrorResponse) -> Error {
    let backend = response.into_backend("connect is not configured for this provider or app");
    Error::Connect(ConnectError {
        kind: ConnectErrorKind::Config,
        code: backend.code.clone(),
        message: backend.message.clone(),
        backend: Some(backend),
    })
}

fn map_managed_secret(response: ErrorResponse, kind: ManagedSecretErrorKind) -> Error {
    let default_message = match kind {
        ManagedSecretErrorKind::SiblingLabelConflict => {
            "another secret of the same group already uses this label"
        }
        ManagedSecretErrorKind::CredentialIdRequired => "the request must name a credential id",
        ManagedSecretErrorKind::EndUserCredentialNotAssignable => {
            "an end user's credential cannot be assigned this way"
        }
    };
    Error::ManagedSecret(ManagedSecretError {
        kind,
        backend: response.into_backend(default_message),
    })
}

fn map_agent(response: ErrorResponse, kind: AgentErrorKind) -> Error {
    let default_message = match kind {
        AgentErrorKind::NotFound => "the caller does not name an active managed agent of this app",
        AgentErrorKind::Inactive => "the agent is inactive",
        AgentErrorKind::Revoked => "the agent was revoked",
        AgentErrorKind::CallerMismatch => "the caller agent does not match the API key's agent",
        AgentErrorKind::CallerResolution => "the backend could not resolve the managed agent",
        AgentErrorKind::KeyAppNotFound => "the backend found no app for this API key",
    };
    let hint = string_field(&response.details, "hint");
    Error::Agent(AgentError {
        kind,
        backend: response.into_backend(default_message),
        hint,
    })
}

fn map_insufficient_scope(response: ErrorResponse) -> Error {
    let details = &response.details;
    let required = string_list(details, "required");
    let granted = string_list(details, "granted");
    let missing = string_list(details, "missing");
    // NOTE: no recorded response shows `required_any_of`; a list of scope strings is assumed,
    // other entries are skipped, and the raw value stays in `details`.
    let required_any_of = string_list(details, "required_any_of");
    let scope_version = unsigned_field(details, "scope_version");
    let current_scope_version = unsigned_field(details, "current_scope_version");
    let scope_version_mismatch = is_true(details, "scope_version_mismatch");
    let documentation_url = string_field(details, "documentation_url");
    Error::InsufficientScope(InsufficientScope {
        backend: response.into_backend("the API key lacks a scope this endpoint requires"),
        required,
        granted,
        missing,
        required_any_of,
        scope_version,
        current_scope_version,
        scope_version_mismatch,
        documentation_url,
    })
}

fn map_ambiguous_grant(response: ErrorResponse) -> Error {
    let details = &response.details;
    let provider_id = string_field(details, "provider_id");
    let account_identifiers = string_list(details, "account_identifiers");
    let account_was_provided = is_true(details, "account_was_provided");
    let app_user_ids = string_list(details, "app_user_ids");
    let grant_ids = string_list(details, "grant_ids");
    let candidates = details
        .get("candidates")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(Value::as_object)
                .map(|candidate| GrantCandidate {
                    grant_id: string_field(candidate, "grant_id"),
                    label: string_field(candidate, "label"),
                    account_identifier: string_field(candidate, "account_identifier"),
                    account_display_name: string_field(candidate, "account_display_name"),
                })
                .collect()
        })
        .unwrap_or_default();
    let candidates_truncated = is_true(details, "candidates_truncated");
    Error::AmbiguousGrant(AmbiguousGrant {
        backend: response
            .into_backend("the user token matches several grants; pass an account to choose one"),
        provider_id,
        account_identifiers,
        account_was_provided,
        app_user_ids,
        grant_ids,
        candidates,
        candidates_truncated,
    })
}

/// Maps the backend's flag that the grant lacks scopes. The grant and provider ids and the
/// missing scopes are in the body's nested `details` object, which becomes the error's details,
/// tagged with `source: "backend_flag"`.
fn map_scope_mismatch(response: ErrorResponse) -> Error {
    let message = match response.details.get("message") {
        Some(Value::String(message)) if !message.is_empty() => message.clone(),
        _ => "the grant lacks scopes this request needs; the user must authorize again".into(),
    };
    let mut details = response
        .details
        .get("details")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    details.insert("source".into(), Value::String("backend_flag".into()));
    let provider_id = string_field(&details, "provider_id");
    let grant_id = string_field(&details, "grant_id");
    let missing_scopes = string_list(&details, "missing_scopes");
    let backend = BackendError {
        status: response.status,
        code: response.code().map(str::to_owned),
        message,
        details,
        request_id: response.request_id,
    };
    Error::ScopeReauthRequired(ScopeReauth {
        status: response.status,
        provider_id,
        grant_id,
        missing_scopes,
        source: "backend_flag".into(),
        backend: Some(backend),
    })
}

fn string_field(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Reads a JSON integer ≥ 0. Booleans and floats are not integers here.
fn unsigned_field(object: &Map<String, Value>, key: &str) -> Option<u64> {
    object.get(key).and_then(Value::as_u64)
}

/// Reads the string entries of an array; other entries are skipped.
fn string_list(object: &Map<String, Value>, key: &str) -> Vec<String> {
    object
        .get(key)
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Returns whether the field is the JSON literal `true`; `"true"` or `1` do not count.
fn is_true(object: &Map<String, Value>, key: &str) -> bool {
    object.get(key) == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn map_json(status: u16, body: Value) -> Error {
        map_error_response(
            status,
            &HeaderMap::new(),
            &serde_json::to_vec(&body).unwrap(),
        )
    }

    fn retry_after_headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn details(error: &Error) -> &Map<String, Value> {
        &error
            .backend()
            .expect("error carries a backend response")
            .details
    }

    #[test]
    fn non_json_body_gets_synthetic_message() {
        let error = map_error_response(502, &HeaderMap::new(), b"<html>bad gateway</html>");
        let Error::Backend(backend) = &error else {
            panic!("expected Backend, got {error:?}");
        };
        assert!(backend.message.contains("HTTP 502"), "{}", backend.message);
        assert!(backend.message.contains("not JSON"), "{}", backend.message);
        assert_eq!(backend.details.len(), 2);
        assert_eq!(backend.details["message"], backend.message.as_str());
        assert_eq!(backend.details["status_code"], 502);
        assert_eq!(backend.code, None);
    }

    #[test]
    fn empty_body_is_not_json() {
        let error = map_error_response(404, &HeaderMap::new(), b"");
        assert!(matches!(error, Error::GrantNotFound(_)), "{error:?}");
        assert!(error.backend().unwrap().message.contains("not JSON"));
    }

    #[test]
    fn json_array_gets_generic_message() {
        let error = map_json(500, json!(["x"]));
        let backend = error.backend().unwrap();
        assert!(
            backend.message.contains("not an object"),
            "{}",
            backend.message
        );
        assert_eq!(backend.details["status_code"], 500);
    }

    #[test]
    fn fastapi_envelope_is_unwrapped() {
        let error = map_json(
            401,
            json!({"detail": {"error": "key_expired", "hint": "rotate"}}),
        );
        let Error::KeyRejected(rejected) = &error else {
            panic!("expected KeyRejected, got {error:?}");
        };
        assert_eq!(rejected.kind, KeyRejectedKind::Expired);
        assert_eq!(rejected.hint.as_deref(), Some("rotate"));
        assert_eq!(
            Value::Object(rejected.backend.details.clone()),
            json!({"error": "key_expired", "hint": "rotate", "status_code": 401})
        );
    }

    #[test]
    fn empty_or_non_string_message_uses_default() {
        for message in [json!(""), json!(5), json!(null)] {
            let error = map_json(403, json!({"error": "grant_revoked", "message": message}));
            let backend = error.backend().unwrap();
            assert!(backend.message.contains("revoked"), "{}", backend.message);
        }
    }

    #[test]
    fn body_status_code_is_overwritten_in_place() {
        let error = map_json(409, json!({"status_code": 200, "error": "x"}));
        let keys: Vec<&String> = details(&error).keys().collect();
        assert_eq!(keys, ["status_code", "error"]);
        assert_eq!(details(&error)["status_code"], 409);
    }

    #[test]
    fn key_rejection_kinds() {
        let cases = [
            ("invalid_key", KeyRejectedKind::Invalid),
            ("key_revoked", KeyRejectedKind::Revoked),
            ("key_expired", KeyRejectedKind::Expired),
            (
                "key_rotated_grace_expired",
                KeyRejectedKind::RotationGraceExpired,
            ),
            ("key_not_active", KeyRejectedKind::Inactive),
        ];
        for (code, kind) in cases {
            let error = map_json(401, json!({ "error": code }));
            let Error::KeyRejected(rejected) = &error else {
                panic!("expected KeyRejected for `{code}`, got {error:?}");
            };
            assert_eq!(rejected.kind, kind, "{code}");
            assert!(!rejected.backend.message.is_empty(), "{code}");
        }
    }

    #[test]
    fn agent_error_kinds() {
        let cases = [
            (404, "agent_not_found", AgentErrorKind::NotFound),
            (401, "agent_inactive", AgentErrorKind::Inactive),
            (401, "agent_revoked", AgentErrorKind::Revoked),
            (502, "caller_agent_mismatch", AgentErrorKind::CallerMismatch),
            (
                503,
                "caller_agent_resolution_error",
                AgentErrorKind::CallerResolution,
            ),
            (500, "app_not_found_for_key", AgentErrorKind::KeyAppNotFound),
        ];
        for (status, code, kind) in cases {
            let error = map_json(status, json!({"error": code, "hint": "check the agent"}));
            let Error::Agent(agent) = &error else {
                panic!("expected Agent for `{code}`, got {error:?}");
            };
            assert_eq!(agent.kind, kind, "{code}");
            assert_eq!(agent.hint.as_deref(), Some("check the agent"), "{code}");
            assert_eq!(error.hint(), Some("check the agent"), "{code}");
        }
    }

    #[test]
    fn unauthorized_unknown_code_is_generic() {
        let error = map_json(401, json!({"error": "something_else"}));
        assert!(matches!(error, Error::Backend(_)), "{error:?}");
    }

    #[test]
    fn jwt_validation_error_rejects_user_token() {
        let error = map_json(401, json!({"error": "jwt_validation_error"}));
        let Error::UserTokenRejected(backend) = &error else {
            panic!("expected UserTokenRejected, got {error:?}");
        };
        assert!(backend.message.contains("sign in"), "{}", backend.message);
    }

    #[test]
    fn forbidden_policy_rows() {
        let error = map_json(
            403,
            json!({"error": "step_up_required", "max_session_age_seconds": 300}),
        );
        let Error::StepUpRequired(step_up) = &error else {
            panic!("expected StepUpRequired, got {error:?}");
        };
        assert_eq!(step_up.max_session_age_seconds, Some(300));

        let error = map_json(403, json!({"error": "redact_discharge_failed"}));
        assert!(
            matches!(error, Error::RedactDischargeFailed(_)),
            "{error:?}"
        );

        let error = map_json(
            403,
            json!({"error": "grant_not_delegable", "detail_reason": "restricted"}),
        );
        let Error::GrantNotDelegable(not_delegable) = &error else {
            panic!("expected GrantNotDelegable, got {error:?}");
        };
        assert_eq!(not_delegable.detail_reason.as_deref(), Some("restricted"));

        let error = map_json(
            403,
            json!({"error": "grant_not_delegable", "reason": "hitl"}),
        );
        let Error::GrantNotDelegable(not_delegable) = &error else {
            panic!("expected GrantNotDelegable, got {error:?}");
        };
        assert_eq!(not_delegable.detail_reason.as_deref(), Some("hitl"));
    }

    #[test]
    fn forbidden_without_code_is_policy_violation() {
        let error = map_error_response(403, &HeaderMap::new(), b"forbidden");
        let Error::PolicyViolation(backend) = &error else {
            panic!("expected PolicyViolation, got {error:?}");
        };
        assert_eq!(backend.code, None);
    }

    #[test]
    fn insufficient_scope_reads_all_fields() {
        let error = map_json(
            403,
            json!({
                "error": "insufficient_scope",
                "required": ["grants:read", 7],
                "granted": ["a"],
                "missing": ["grants:read"],
                "required_any_of": ["grants:read", "grants:write"],
                "scope_version": 3,
                "current_scope_version": 4,
                "scope_version_mismatch": true,
                "documentation_url": "https://docs.example/scopes"
            }),
        );
        let Error::InsufficientScope(scope) = &error else {
            panic!("expected InsufficientScope, got {error:?}");
        };
        assert_eq!(scope.required, ["grants:read"]);
        assert_eq!(scope.granted, ["a"]);
        assert_eq!(scope.missing, ["grants:read"]);
        assert_eq!(scope.required_any_of, ["grants:read", "grants:write"]);
        assert_eq!(scope.scope_version, Some(3));
        assert_eq!(scope.current_scope_version, Some(4));
        assert!(scope.scope_version_mismatch);
        assert_eq!(
            scope.documentation_url.as_deref(),
            Some("https://docs.example/scopes")
        );
    }

    #[test]
    fn scope_version_mismatch_needs_literal_true() {
        let error = map_json(
            403,
            json!({"error": "insufficient_scope", "scope_version_mismatch": "true"}),
        );
        let Error::InsufficientScope(scope) = &error else {
            panic!("expected InsufficientScope, got {error:?}");
        };
        assert!(!scope.scope_version_mismatch);
    }

    #[test]
    fn scope_mismatch_without_nested_details() {
        let error = map_json(403, json!({"error": "scope_mismatch", "details": "x"}));
        let Error::ScopeReauthRequired(reauth) = &error else {
            panic!("expected ScopeReauthRequired, got {error:?}");
        };
        assert_eq!(reauth.provider_id, None);
        assert!(reauth.missing_scopes.is_empty());
        assert_eq!(
            Value::Object(reauth.backend.as_ref().unwrap().details.clone()),
            json!({"source": "backend_flag"})
        );
    }

    #[test]
    fn connect_config_rows() {
        let cases = [
            (409, "managed_oauth_scope_approval_required"),
            (409, "idp_signin_not_configured"),
            (409, "no_eligible_grants"),
            (409, "binding_hosts_required"),
            (409, "provider_contract_repair_required"),
            (404, "secret_not_found"),
            (422, "secret_template_mismatch"),
        ];
        for (status, code) in cases {
            let error = map_json(status, json!({"error": code, "message": "configure it"}));
            let Error::Connect(connect) = &error else {
                panic!("expected Connect for `{code}`, got {error:?}");
            };
            assert_eq!(connect.kind, ConnectErrorKind::Config, "{code}");
            assert_eq!(connect.code.as_deref(), Some(code));
            assert_eq!(connect.message, "configure it");
            assert_eq!(error.status(), Some(status), "{code}");
        }
    }

    #[test]
    fn managed_secret_rows() {
        let cases = [
            (
                "sibling_label_conflict",
                ManagedSecretErrorKind::SiblingLabelConflict,
            ),
            (
                "credential_id_required",
                ManagedSecretErrorKind::CredentialIdRequired,
            ),
            (
                "end_user_credential_not_assignable",
                ManagedSecretErrorKind::EndUserCredentialNotAssignable,
            ),
        ];
        for (code, kind) in cases {
            let error = map_json(409, json!({ "error": code }));
            let Error::ManagedSecret(secret) = &error else {
                panic!("expected ManagedSecret for `{code}`, got {error:?}");
            };
            assert_eq!(secret.kind, kind, "{code}");
        }
    }

    #[test]
    fn conflict_unknown_code_is_generic() {
        let error = map_json(409, json!({"error": "duplicate"}));
        assert!(matches!(error, Error::Backend(_)), "{error:?}");
    }

    #[test]
    fn gone_is_grant_deleted_for_any_code() {
        let error = map_json(410, json!({"error": "whatever", "grant_id": "g-1"}));
        let Error::GrantDeleted(grant) = &error else {
            panic!("expected GrantDeleted, got {error:?}");
        };
        assert_eq!(grant.grant_id.as_deref(), Some("g-1"));
    }

    #[test]
    fn bad_gateway_proxy_codes() {
        for code in [
            "delegated_grant_requires_proxy",
            "restricted_grant_requires_proxy",
        ] {
            let error = map_json(502, json!({ "error": code }));
            assert!(
                matches!(error, Error::RestrictedGrantRequiresProxy(_)),
                "{code}: {error:?}"
            );
        }
        let error = map_json(502, json!({"error": "grant_revoked"}));
        assert!(matches!(error, Error::GrantRevoked(_)), "{error:?}");
        let error = map_json(400, json!({"error": "bad_input"}));
        assert!(matches!(error, Error::Backend(_)), "{error:?}");
    }

    #[test]
    fn too_many_requests_other_code_falls_through() {
        let error = map_json(429, json!({"error": "slow_down"}));
        assert!(matches!(error, Error::Backend(_)), "{error:?}");
        let error = map_json(429, json!({"error": "blocked_destination"}));
        assert!(matches!(error, Error::BlockedDestination(_)), "{error:?}");
        let error = map_json(429, json!(["not", "an", "object"]));
        assert!(matches!(error, Error::Backend(_)), "{error:?}");
    }

    #[test]
    fn rate_limit_scope_must_be_known() {
        let error = map_json(
            429,
            json!({"error": "rate_limit_exceeded", "scope": "galaxy", "limit": -1, "window_seconds": 1.5}),
        );
        let Error::RateLimited(limit) = &error else {
            panic!("expected RateLimited, got {error:?}");
        };
        assert_eq!(limit.scope, None);
        assert_eq!(limit.limit, None);
        assert_eq!(limit.window_seconds, None);
    }

    #[test]
    fn blocked_destination_without_request_id() {
        let error = map_json(400, json!({"error": "blocked_destination"}));
        assert!(
            matches!(error, Error::Backend(_)),
            "400 has its own rows: {error:?}"
        );
        let error = map_json(451, json!({"error": "blocked_destination"}));
        let Error::BlockedDestination(backend) = &error else {
            panic!("expected BlockedDestination, got {error:?}");
        };
        assert_eq!(backend.request_id, None);
        assert!(!backend.details.contains_key("request_id"));
    }

    #[test]
    fn request_id_is_kept_on_every_error() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("req-9"));
        let error = map_error_response(404, &headers, br#"{"error":"grant_not_found"}"#);
        assert_eq!(error.request_id(), Some("req-9"));
        assert!(!details(&error).contains_key("request_id"));
    }

    #[test]
    fn header_retry_after_rules() {
        let cases = [
            ("3", Some(3)),
            (" 42 ", Some(42)),
            ("0", Some(0)),
            ("000", Some(0)),
            ("00060", Some(60)),
            ("3600", Some(3600)),
            ("3601", Some(3600)),
            ("9999", Some(3600)),
            ("000000000000000000000000000000000000000000012", Some(12)),
            ("123456789012345678901234567890", Some(3600)),
            ("", None),
            ("-1", None),
            ("1.5", None),
            ("+5", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ];
        for (value, expected) in cases {
            assert_eq!(
                header_retry_after(&retry_after_headers(value), RATE_LIMIT_RETRY_CAP_SECS),
                expected,
                "Retry-After: {value:?}"
            );
        }
        assert_eq!(header_retry_after(&HeaderMap::new(), 10), None);
    }

    #[test]
    fn header_retry_after_ignores_non_ascii() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff5").unwrap());
        assert_eq!(header_retry_after(&headers, 10), None);
    }

    #[test]
    fn body_retry_after_rules() {
        let cases = [
            (json!(60), Some(60)),
            (json!(60.0), Some(60)),
            (json!(0), Some(0)),
            (json!(60.5), None),
            (json!(-1), None),
            (json!(-1.0), None),
            (json!(true), None),
            (json!("60"), None),
            (json!(null), None),
            (json!(1e300), Some(3600)),
            (json!(999_999), Some(3600)),
        ];
        for (value, expected) in cases {
            let error = map_json(
                429,
                json!({"error": "rate_limit_exceeded", "retry_after": value}),
            );
            assert_eq!(
                error.retry_after().map(|d| d.as_secs()),
                expected,
                "retry_after {value}"
            );
        }
    }

    #[test]
    fn quota_cap_is_31_days() {
        let error = map_error_response(
            429,
            &retry_after_headers("99999999"),
            br#"{"error":"quota_exceeded"}"#,
        );
        assert_eq!(
            error.retry_after(),
            Some(Duration::from_secs(QUOTA_RETRY_CAP_SECS))
        );
        let error = map_json(429, json!({"error": "quota_exceeded", "retry_after": 5e6}));
        assert_eq!(
            error.retry_after(),
            Some(Duration::from_secs(QUOTA_RETRY_CAP_SECS))
        );
    }

    #[test]
    fn http_date_retry_after_falls_back_to_body() {
        let error = map_error_response(
            429,
            &retry_after_headers("Wed, 21 Oct 2015 07:28:00 GMT"),
            br#"{"error":"rate_limit_exceeded","retry_after":9}"#,
        );
        assert_eq!(error.retry_after(), Some(Duration::from_secs(9)));
    }

    #[test]
    fn retry_after_seconds_on_500_and_503() {
        let error = map_error_response(500, &retry_after_headers("7"), b"{}");
        assert_eq!(details(&error)["retry_after_seconds"], 7);
        let error = map_error_response(502, &retry_after_headers("7"), b"{}");
        assert!(!details(&error).contains_key("retry_after_seconds"));
        let error = map_error_response(503, &retry_after_headers("soon"), b"{}");
        assert!(!details(&error).contains_key("retry_after_seconds"));
    }

    #[test]
    fn timeout_status_without_code_is_generic() {
        let error = map_json(408, json!({}));
        let Error::Backend(backend) = &error else {
            panic!("expected Backend, got {error:?}");
        };
        assert!(backend.message.contains("408"), "{}", backend.message);
    }

    fn arbitrary_status() -> impl Strategy<Value = u16> {
        prop_oneof![
            Just(400u16),
            Just(401),
            Just(403),
            Just(404),
            Just(409),
            Just(410),
            Just(429),
            Just(500),
            Just(502),
            Just(503),
            Just(504),
            any::<u16>(),
        ]
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z_]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("error".to_owned()),
                            Just("message".to_owned()),
                            Just("detail".to_owned()),
                            Just("details".to_owned()),
                            Just("retry_after".to_owned()),
                            Just("candidates".to_owned()),
                            "[a-z_]{1,8}",
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(
            status in arbitrary_status(),
            body in prop::collection::vec(any::<u8>(), 0..256),
            retry_after in prop::collection::vec(any::<u8>(), 0..24),
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&retry_after) {
                headers.insert(RETRY_AFTER, value.clone());
                headers.insert(REQUEST_ID_HEADER, value);
            }
            let error = map_error_response(status, &headers, &body);
            let _ = error.to_string();
        }

        #[test]
        fn never_panics_on_any_json(status in arbitrary_status(), body in arbitrary_json()) {
            let bytes = serde_json::to_vec(&body).unwrap();
            let error = map_error_response(status, &HeaderMap::new(), &bytes);
            let _ = error.to_string();
            // Every JSON response keeps its status in the details, except the scope-mismatch
            // flag, whose details are the nested object.
            if let Some(backend) = error.backend() {
                prop_assert_eq!(backend.status, status);
                if !matches!(error, Error::ScopeReauthRequired(_)) {
                    prop_assert_eq!(&backend.details["status_code"], &Value::from(status));
                }
            }
        }

        #[test]
        fn retry_after_never_exceeds_cap(digits in "[0-9]{1,40}", cap in 0u64..10_000_000) {
            let delay = header_retry_after(&retry_after_headers(&digits), cap);
            prop_assert!(delay.is_some());
            prop_assert!(delay.unwrap() <= cap);
        }
    }
}
