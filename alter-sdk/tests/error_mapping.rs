//! Backend error responses recorded from the reference client, mapped by
//! `alter::protocol::error_body::map_error_response` and checked against the error that client
//! raised: the variant, the status, the details map (keys in order) and every attribute listed.

mod error_vectors;

use std::time::Duration;

use alter::Error;
use alter::error::{AgentErrorKind, KeyRejectedKind};
use alter::protocol::error_body::map_error_response;
use error_vectors::{
    assert_details, assert_like_reference, case_body, case_code, case_headers, case_status,
    error_cases,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

const GRANT_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

/// Feeds one recorded response to the mapper.
fn map_case(case: &Value) -> Error {
    let mut headers = HeaderMap::new();
    for (name, value) in case_headers(case) {
        headers.append(
            HeaderName::try_from(name).expect("valid header name"),
            HeaderValue::from_str(&value).expect("valid header value"),
        );
    }
    map_error_response(case_status(case), &headers, &case_body(case))
}

/// Finds the case whose body has the `error` code (top level or inside `detail`) and status.
fn case_with(code: &str, status: u64) -> Value {
    error_cases()
        .into_iter()
        .find(|case| case["status"] == status && case_code(case) == Some(code))
        .unwrap_or_else(|| panic!("no vector for `{code}` with status {status}"))
}

#[test]
fn all_recorded_cases_map_like_the_reference() {
    let cases = error_cases();
    assert_eq!(cases.len(), 30, "number of recorded error cases");
    for (index, case) in cases.iter().enumerate() {
        let error = map_case(case);
        assert_like_reference(&error, case, &format!("case {index}"));
    }
}

#[test]
fn grant_not_found_carries_ids() {
    let case = case_with("grant_not_found", 404);
    let error = map_case(&case);
    let Error::GrantNotFound(grant) = &error else {
        panic!("expected GrantNotFound, got {error:?}");
    };
    assert_eq!(grant.provider_id.as_deref(), Some("google"));
    assert_eq!(grant.app_user_id.as_deref(), Some("u-1"));
    assert_eq!(grant.agent_id, None);
    assert_eq!(grant.backend.message, "Grant not found");
    assert_eq!(error.code(), Some("grant_not_found"));
    assert!(error.needs_connect_session());
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn no_delegated_grant_404_reads_fastapi_envelope() {
    let case = case_with("no_delegated_grant", 404);
    let error = map_case(&case);
    let Error::NoDelegatedGrant(grant) = &error else {
        panic!("expected NoDelegatedGrant, got {error:?}");
    };
    assert_eq!(grant.provider_id.as_deref(), Some("google"));
    assert_eq!(grant.agent_id.as_deref(), Some("a-1"));
    assert_eq!(grant.app_user_id.as_deref(), Some("u-1"));
    assert_eq!(grant.backend.status, 404);
    assert_eq!(grant.backend.message, "No delegation");
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn no_delegated_grant_409_uses_default_message() {
    let case = case_with("no_delegated_grant", 409);
    let error = map_case(&case);
    let Error::NoDelegatedGrant(grant) = &error else {
        panic!("expected NoDelegatedGrant, got {error:?}");
    };
    assert_eq!(grant.provider_id.as_deref(), Some("google"));
    assert_eq!(grant.agent_id.as_deref(), Some("a-1"));
    assert_eq!(grant.app_user_id, None);
    assert_eq!(grant.backend.status, 409);
    assert!(grant.backend.message.contains("delegation"), "{error}");
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn ambiguous_grant_lists_accounts() {
    let case = case_with("ambiguous_grant", 409);
    let error = map_case(&case);
    let Error::AmbiguousGrant(ambiguous) = &error else {
        panic!("expected AmbiguousGrant, got {error:?}");
    };
    assert_eq!(ambiguous.provider_id.as_deref(), Some("google"));
    assert_eq!(ambiguous.account_identifiers, ["a@x.com", "b@x.com"]);
    assert!(!ambiguous.account_was_provided);
    assert!(!ambiguous.candidates_truncated);
    assert_eq!(ambiguous.candidates.len(), 1);
    let candidate = &ambiguous.candidates[0];
    assert_eq!(candidate.grant_id.as_deref(), Some(GRANT_ID));
    assert_eq!(candidate.label.as_deref(), Some("work"));
    assert_eq!(candidate.account_identifier.as_deref(), Some("a@x.com"));
    assert_eq!(candidate.account_display_name, None);
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn scope_mismatch_reads_nested_details() {
    let case = case_with("scope_mismatch", 403);
    let error = map_case(&case);
    let Error::ScopeReauthRequired(reauth) = &error else {
        panic!("expected ScopeReauthRequired, got {error:?}");
    };
    assert_eq!(reauth.status, 403);
    assert_eq!(reauth.provider_id.as_deref(), Some("google"));
    assert_eq!(reauth.grant_id.as_deref(), Some(GRANT_ID));
    assert_eq!(reauth.missing_scopes, ["x"]);
    assert_eq!(reauth.source, "backend_flag");
    let backend = reauth.backend.as_ref().expect("backend response is kept");
    assert_eq!(backend.message, "Grant is missing scopes");
    assert_eq!(backend.code.as_deref(), Some("scope_mismatch"));
    assert_eq!(backend.detail_str("source"), Some("backend_flag"));
    assert!(error.needs_connect_session());
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn credential_revoked_403_carries_ids() {
    let case = case_with("credential_revoked", 403);
    let error = map_case(&case);
    let Error::CredentialRevoked(grant) = &error else {
        panic!("expected CredentialRevoked, got {error:?}");
    };
    assert_eq!(grant.provider_id.as_deref(), Some("google"));
    assert_eq!(grant.grant_id.as_deref(), Some(GRANT_ID));
    assert_eq!(grant.app_user_id, None);
    assert_eq!(grant.backend.status, 403);
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn credential_revoked_400_maps_like_403() {
    let case = case_with("credential_revoked", 400);
    let error = map_case(&case);
    let Error::CredentialRevoked(grant) = &error else {
        panic!("expected CredentialRevoked, got {error:?}");
    };
    assert_eq!(grant.grant_id.as_deref(), Some(GRANT_ID));
    assert_eq!(grant.provider_id, None);
    assert_eq!(grant.backend.status, 400);
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn grant_expired_keeps_body_message() {
    let case = case_with("grant_expired", 403);
    let error = map_case(&case);
    let Error::GrantExpired(grant) = &error else {
        panic!("expected GrantExpired, got {error:?}");
    };
    assert_eq!(grant.backend.message, "expired");
    assert_eq!(grant.provider_id, None);
    assert_eq!(grant.agent_id, None);
    assert_eq!(grant.app_user_id, None);
    assert!(error.needs_connect_session());
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn rate_limit_prefers_retry_after_header() {
    let case = case_with("rate_limit_exceeded", 429);
    let error = map_case(&case);
    let Error::RateLimited(limit) = &error else {
        panic!("expected RateLimited, got {error:?}");
    };
    // The header sends 3 and the body 7, and the header wins.
    assert_eq!(limit.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(limit.scope.as_deref(), Some("api_key"));
    assert_eq!(limit.limit, Some(600));
    assert_eq!(limit.window_seconds, Some(60));
    assert!(error.is_retryable());
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn quota_reads_body_retry_after() {
    let case = case_with("quota_exceeded", 429);
    let error = map_case(&case);
    let Error::QuotaExceeded(quota) = &error else {
        panic!("expected QuotaExceeded, got {error:?}");
    };
    assert_eq!(quota.retry_after, Some(Duration::from_secs(86_400)));
    assert!(!error.is_retryable());
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn non_json_429_reads_header_only() {
    let case = error_cases()
        .into_iter()
        .find(|case| case["status"] == 429 && case["body"].is_string())
        .expect("a 429 vector with a non-JSON body");
    let error = map_case(&case);
    let Error::RateLimited(limit) = &error else {
        panic!("expected RateLimited, got {error:?}");
    };
    // `Retry-After: 00060`: leading zeros are ignored.
    assert_eq!(limit.retry_after, Some(Duration::from_secs(60)));
    assert_eq!(limit.scope, None);
    assert_eq!(limit.limit, None);
    assert_eq!(limit.window_seconds, None);
    assert_eq!(limit.backend.code, None);
    assert_details(&error, &serde_json::json!({"status_code": 429}));
}

#[test]
fn invalid_key_carries_hint() {
    let case = case_with("invalid_key", 401);
    let error = map_case(&case);
    let Error::KeyRejected(rejected) = &error else {
        panic!("expected KeyRejected, got {error:?}");
    };
    assert_eq!(rejected.kind, KeyRejectedKind::Invalid);
    assert_eq!(rejected.hint.as_deref(), Some("mint a new key"));
    assert_eq!(rejected.backend.message, "Invalid API key");
    assert_eq!(error.hint(), Some("mint a new key"));
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn service_unavailable_copies_retry_after() {
    let case = error_cases()
        .into_iter()
        .find(|case| case["status"] == 503)
        .expect("a 503 vector");
    let error = map_case(&case);
    let Error::Backend(backend) = &error else {
        panic!("expected Backend, got {error:?}");
    };
    assert_eq!(backend.status, 503);
    assert_eq!(backend.code, None);
    assert_eq!(backend.details["retry_after_seconds"], 2);
    // `detail` is a string, not the FastAPI envelope, so the body is kept as it is.
    assert_eq!(backend.detail_str("detail"), Some("Service Unavailable"));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    assert!(error.is_retryable());
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn blocked_destination_records_request_id() {
    let case = case_with("blocked_destination", 422);
    let error = map_case(&case);
    let Error::BlockedDestination(backend) = &error else {
        panic!("expected BlockedDestination, got {error:?}");
    };
    assert_eq!(backend.request_id.as_deref(), Some("req-1"));
    assert_eq!(backend.detail_str("request_id"), Some("req-1"));
    assert_eq!(error.request_id(), Some("req-1"));
    // The body's message is replaced by a fixed one.
    assert_ne!(backend.message, "x");
    assert!(error.to_string().contains("req-1"), "{error}");
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn gateway_timeout_keeps_timeout_reason() {
    let case = case_with("gateway_timeout", 504);
    let error = map_case(&case);
    let Error::Backend(backend) = &error else {
        panic!("expected Backend, got {error:?}");
    };
    assert_eq!(
        backend.detail_str("timeout_reason"),
        Some("upstream_timeout")
    );
    assert_eq!(backend.code.as_deref(), Some("gateway_timeout"));
    assert_details(&error, &case["raised"]["details"]);
}

#[test]
fn agent_errors_have_kinds() {
    let cases = [
        ("caller_agent_unresolved", 404, AgentErrorKind::NotFound),
        ("caller_agent_mismatch", 400, AgentErrorKind::CallerMismatch),
        (
            "caller_agent_resolution_error",
            500,
            AgentErrorKind::CallerResolution,
        ),
    ];
    for (code, status, kind) in cases {
        let case = case_with(code, status);
        let error = map_case(&case);
        let Error::Agent(agent) = &error else {
            panic!("expected Agent for `{code}`, got {error:?}");
        };
        assert_eq!(agent.kind, kind, "{code}");
        assert_eq!(agent.hint, None, "{code}");
        assert_details(&error, &case["raised"]["details"]);
    }
}
