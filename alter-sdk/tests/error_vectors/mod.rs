//! The recorded backend error responses (`error_mapping` in the protocol vectors), and checks
//! that a mapped [`Error`] matches what the reference client raised for each. The checks cover
//! the variant, the status, the details map (keys in order), the message and every attribute
//! listed.
//!
//! `alter-sdk/tests/error_mapping.rs` feeds each response to the mapper directly, and
//! `tests/tests/vault_error_table.rs` has DevVault serve it to the vault client over a socket.
//! Both include this file, so the two tests expect exactly the same thing.

use alter::Error;
use alter::error::{AgentErrorKind, KeyRejectedKind};
use serde_json::Value;

/// Returns every recorded error case, in file order.
pub(crate) fn error_cases() -> Vec<Value> {
    let vectors: Value = serde_json::from_str(include_str!("../data/protocol-vectors.json"))
        .expect("protocol vectors file is JSON");
    vectors["error_mapping"]
        .as_array()
        .expect("`error_mapping` is an array")
        .clone()
}

/// Returns the body's `error` code, at the top level or inside a FastAPI `detail` object.
pub(crate) fn case_code(case: &Value) -> Option<&str> {
    let body = &case["body"];
    body["error"].as_str().or(body["detail"]["error"].as_str())
}

/// Returns the body bytes of a case: a string body is sent as it is (it stands for a response
/// that is not JSON), anything else as JSON.
pub(crate) fn case_body(case: &Value) -> Vec<u8> {
    match &case["body"] {
        Value::String(text) => text.clone().into_bytes(),
        json => serde_json::to_vec(json).expect("body serializes"),
    }
}

/// Returns the response headers of a case, in file order.
pub(crate) fn case_headers(case: &Value) -> Vec<(String, String)> {
    case["headers"]
        .as_object()
        .expect("headers is an object")
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().expect("header value is a string");
            (name.clone(), value.to_owned())
        })
        .collect()
}

/// Returns the status of a case.
pub(crate) fn case_status(case: &Value) -> u16 {
    let status = case["status"].as_u64().expect("status is a number");
    u16::try_from(status).expect("status fits in u16")
}

/// Asserts that `error` is what the reference client raised for `case`. `context` starts
/// every failure message.
pub(crate) fn assert_like_reference(error: &Error, case: &Value, context: &str) {
    let raised = &case["raised"];
    let class = raised["class"]
        .as_str()
        .expect("`raised.class` is a string");
    let context = format!("{context} ({class}): {error:?}");

    assert!(is_class(error, class), "{context}");
    assert_eq!(
        error.status().map(u64::from),
        raised["status_code"].as_u64(),
        "{context}"
    );
    assert_details(error, &raised["details"]);

    let message = &error.backend().expect("a backend error").message;
    assert!(!message.is_empty(), "{context}");
    if class != "BlockedDestinationError"
        && let Some(expected) = body_message(case)
    {
        assert_eq!(message, expected, "{context}");
        assert_eq!(raised["message"], expected, "{context}");
    }

    let fixed = ["class", "mro", "message", "status_code", "details"];
    for (name, expected) in raised.as_object().expect("`raised` is an object") {
        if !fixed.contains(&name.as_str()) {
            assert_eq!(&attribute(error, name), expected, "{context}: `{name}`");
        }
    }
}

/// Asserts equal maps and equal key order, since the details are forwarded as they were read.
pub(crate) fn assert_details(error: &Error, expected: &Value) {
    let details = &error
        .backend()
        .expect("error carries a backend response")
        .details;
    let actual = Value::Object(details.clone());
    assert_eq!(&actual, expected, "details of {error:?}");
    assert_eq!(
        serde_json::to_string(&actual).unwrap(),
        serde_json::to_string(expected).unwrap(),
        "key order of details"
    );
}

/// Returns whether `error` is the variant that stands for the reference client's class.
fn is_class(error: &Error, class: &str) -> bool {
    match class {
        "GrantNotFoundError" => matches!(error, Error::GrantNotFound(_)),
        "NoDelegatedGrantError" => matches!(error, Error::NoDelegatedGrant(_)),
        "ScopeReauthRequiredError" => matches!(error, Error::ScopeReauthRequired(_)),
        "CredentialRevokedError" => matches!(error, Error::CredentialRevoked(_)),
        "GrantExpiredError" => matches!(error, Error::GrantExpired(_)),
        "GrantRevokedError" => matches!(error, Error::GrantRevoked(_)),
        "GrantDeletedError" => matches!(error, Error::GrantDeleted(_)),
        "PolicyViolationError" => matches!(error, Error::PolicyViolation(_)),
        "InsufficientScopeError" => matches!(error, Error::InsufficientScope(_)),
        "RateLimitError" => matches!(error, Error::RateLimited(_)),
        "QuotaExceededError" => matches!(error, Error::QuotaExceeded(_)),
        "AmbiguousGrantError" => matches!(error, Error::AmbiguousGrant(_)),
        "RestrictedGrantRequiresProxyError" => {
            matches!(error, Error::RestrictedGrantRequiresProxy(_))
        }
        "InvalidKeyError" => {
            matches!(error, Error::KeyRejected(e) if e.kind == KeyRejectedKind::Invalid)
        }
        "KeyRevokedError" => {
            matches!(error, Error::KeyRejected(e) if e.kind == KeyRejectedKind::Revoked)
        }
        "ReAuthRequiredError" => matches!(error, Error::UserTokenRejected(_)),
        "TokenRefreshInProgressError" => matches!(error, Error::TokenRefreshInProgress(_)),
        "BackendError" => matches!(error, Error::Backend(_)),
        "CallerAgentResolutionError" => {
            matches!(error, Error::Agent(e) if e.kind == AgentErrorKind::CallerResolution)
        }
        "BlockedDestinationError" => matches!(error, Error::BlockedDestination(_)),
        "AgentNotFoundError" => {
            matches!(error, Error::Agent(e) if e.kind == AgentErrorKind::NotFound)
        }
        "CallerAgentMismatchError" => {
            matches!(error, Error::Agent(e) if e.kind == AgentErrorKind::CallerMismatch)
        }
        other => panic!("no variant is known for the reference class `{other}`"),
    }
}

/// Reads the attribute the reference client exposed under `name`, as JSON.
fn attribute(error: &Error, name: &str) -> Value {
    let text = |value: Option<&str>| value.map_or(Value::Null, Value::from);
    match (name, error) {
        ("provider_id", _) => text(error.provider_id()),
        ("grant_id", _) => text(error.grant_id()),
        ("agent_id", _) => text(error.agent_id()),
        ("app_user_id", _) => text(error.app_user_id()),
        ("hint", _) => text(error.hint()),
        ("retry_after", _) => error
            .retry_after()
            .map_or(Value::Null, |delay| Value::from(delay.as_secs())),
        ("policy_error", Error::PolicyViolation(_)) => text(error.code()),
        ("scope", Error::RateLimited(e)) => text(e.scope.as_deref()),
        ("limit", Error::RateLimited(e)) => e.limit.map_or(Value::Null, Value::from),
        ("window_seconds", Error::RateLimited(e)) => {
            e.window_seconds.map_or(Value::Null, Value::from)
        }
        ("missing", Error::InsufficientScope(e)) => Value::from(e.missing.clone()),
        ("account_identifiers", Error::AmbiguousGrant(e)) => {
            Value::from(e.account_identifiers.clone())
        }
        ("account_was_provided", Error::AmbiguousGrant(e)) => Value::from(e.account_was_provided),
        _ => panic!("attribute `{name}` is not readable from {error:?}"),
    }
}

/// The body's own non-empty `message`, which the mapped error must keep.
fn body_message(case: &Value) -> Option<&str> {
    let body = &case["body"];
    body["message"]
        .as_str()
        .or(body["detail"]["message"].as_str())
        .filter(|message| !message.is_empty())
}
