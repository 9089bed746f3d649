//! `impl IntoResponse for alter::Error`: the status and the safe JSON body of each error.
//!
//! The body never carries the error's `Display` text, because that can contain backend
//! messages, provider URLs and request ids. Each row has a fixed message instead, and the full
//! error goes to the log for every `5xx` response.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

use super::json_error::{CHALLENGE, CHALLENGE_INVALID_TOKEN, CHALLENGE_STEP_UP, JsonError};
use crate::error::{
    ApprovalErrorKind, ConnectErrorKind, Error, ManagedSecretErrorKind, SignInErrorKind,
};

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let reply = reply_for(&self);
        if reply.status.is_server_error() {
            tracing::error!(
                target: "alter::axum",
                status = reply.status.as_u16(),
                code = reply.code(),
                error = %self,
                "request failed"
            );
        } else {
            tracing::debug!(
                target: "alter::axum",
                status = reply.status.as_u16(),
                code = reply.code(),
                "request rejected"
            );
        }
        reply.into_response()
    }
}

/// Chooses the status, code, message and headers for `error`.
fn reply_for(error: &Error) -> JsonError {
    match error {
        Error::MissingUserToken => JsonError::new(
            StatusCode::UNAUTHORIZED,
            "missing_bearer_token",
            "this request needs a signed-in user; send `Authorization: Bearer <token>`",
        )
        .challenge(CHALLENGE),
        Error::UserTokenRejected(_) => JsonError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the bearer token was rejected; sign in again",
        )
        .challenge(CHALLENGE_INVALID_TOKEN),
        Error::StepUpRequired(step_up) => JsonError::new(
            StatusCode::UNAUTHORIZED,
            "insufficient_user_authentication",
            "this request needs a recent sign-in; sign in again",
        )
        .challenge(step_up_challenge(step_up.max_session_age_seconds)),

        Error::GrantNotFound(_) => connect_required(error, "grant_not_found", |provider| {
            format!("the user has not connected {provider}; start a connect session")
        }),
        Error::NoDelegatedGrant(_) => connect_required(error, "no_delegated_grant", |provider| {
            format!("the agent has no delegated access to {provider}; start a connect session")
        }),
        Error::ScopeReauthRequired(_) => {
            connect_required(error, "scope_reauth_required", |provider| {
                format!(
                    "the connection to {provider} lacks required permissions; \
                     start a connect session to authorize again"
                )
            })
        }
        Error::CredentialRevoked(_) => connect_again(error, "credential_revoked"),
        Error::GrantExpired(_) => connect_again(error, "grant_expired"),
        Error::GrantRevoked(_) => connect_again(error, "grant_revoked"),
        Error::GrantDeleted(_) => connect_again(error, "grant_deleted"),
        Error::ProviderUnauthorized(_) => {
            connect_required(error, "provider_unauthorized", |provider| {
                format!(
                    "{provider} rejected the stored credential; \
                     start a connect session to connect again"
                )
            })
        }

        Error::AmbiguousGrant(_) => with_provider(
            JsonError::new(
                StatusCode::CONFLICT,
                "ambiguous_grant",
                "several connected accounts match this request; choose one",
            ),
            error,
        ),
        Error::PolicyViolation(_) | Error::RedactDischargeFailed(_) => JsonError::new(
            StatusCode::FORBIDDEN,
            "policy_violation",
            "a vault policy denied this request",
        ),
        Error::GrantNotDelegable(_) => JsonError::new(
            StatusCode::FORBIDDEN,
            "grant_not_delegable",
            "the connected account may not be delegated to this agent",
        ),
        Error::ManagedSecret(secret)
            if secret.kind == ManagedSecretErrorKind::SiblingLabelConflict =>
        {
            JsonError::new(
                StatusCode::CONFLICT,
                "label_conflict",
                "another credential already uses this label; choose another",
            )
        }
        Error::Connect(connect) => match connect.kind {
            ConnectErrorKind::Denied => JsonError::new(
                StatusCode::FORBIDDEN,
                "connect_denied",
                "the user declined to connect the account",
            ),
            ConnectErrorKind::Timeout => JsonError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "connect_timeout",
                "the connect session expired before the user finished",
            ),
            ConnectErrorKind::Flow => bad_gateway(),
            ConnectErrorKind::Config => internal_error(),
        },
        Error::SignIn(sign_in) => match sign_in.kind {
            SignInErrorKind::Failed => JsonError::new(
                StatusCode::UNAUTHORIZED,
                "sign_in_failed",
                "the sign-in did not complete; sign in again",
            ),
            SignInErrorKind::Expired | SignInErrorKind::TimedOut => JsonError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "sign_in_timeout",
                "the sign-in session ended before the user finished",
            ),
        },
        Error::Approval(approval) => match approval.kind {
            ApprovalErrorKind::Denied => JsonError::new(
                StatusCode::FORBIDDEN,
                "approval_denied",
                "an approver denied this request",
            ),
            ApprovalErrorKind::Expired | ApprovalErrorKind::TimedOut => JsonError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "approval_timeout",
                "nobody approved this request in time",
            ),
            ApprovalErrorKind::ExecutionFailed => bad_gateway(),
        },

        Error::RateLimited(_) => JsonError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry later",
        )
        .retry_after(retry_after_secs(error)),
        Error::QuotaExceeded(_) => JsonError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            "the usage quota is exhausted",
        )
        .retry_after(retry_after_secs(error)),
        Error::TokenRefreshInProgress(_) => JsonError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the account's credential is being refreshed; retry shortly",
        )
        .retry_after(retry_after_secs(error)),

        Error::Provider(provider) if provider.status == 429 => with_provider(
            JsonError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "provider_rate_limited",
                "the provider is rate limiting requests; retry later",
            ),
            error,
        ),
        Error::Provider(provider) => with_provider(
            JsonError::new(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                "the provider returned an error",
            )
            .field("provider_status", provider.status),
            error,
        ),
        Error::Backend(backend) if backend.status >= 500 => bad_gateway(),
        Error::Decode(_) | Error::MalformedResponse { .. } | Error::Network { .. } => bad_gateway(),
        Error::Timeout { .. } => JsonError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "an upstream service did not answer in time",
        ),

        Error::Config(_)
        | Error::InvalidRequest(_)
        | Error::KeyRejected(_)
        | Error::Agent(_)
        | Error::InsufficientScope(_)
        | Error::RestrictedGrantRequiresProxy(_)
        | Error::BlockedDestination(_)
        | Error::ManagedSecret(_)
        | Error::Backend(_) => internal_error(),
    }
}

/// Builds a `403` telling the client that the user must go through a connect session for the
/// provider. The `message` closure receives the provider id.
fn connect_required(error: &Error, code: &str, message: impl FnOnce(&str) -> String) -> JsonError {
    let message = message(error.provider_id().unwrap_or("the provider"));
    with_provider(
        JsonError::new(StatusCode::FORBIDDEN, code, message).field("connect_required", true),
        error,
    )
}

/// Builds the `403` for a grant that existed but can no longer be used.
fn connect_again(error: &Error, code: &str) -> JsonError {
    connect_required(error, code, |provider| {
        format!(
            "the connection to {provider} is no longer valid; start a connect session to connect again"
        )
    })
}

fn with_provider(reply: JsonError, error: &Error) -> JsonError {
    match error.provider_id() {
        Some(provider) => reply.field("provider", provider),
        None => reply,
    }
}

fn bad_gateway() -> JsonError {
    JsonError::new(
        StatusCode::BAD_GATEWAY,
        "bad_gateway",
        "an upstream service failed",
    )
}

fn internal_error() -> JsonError {
    JsonError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal server error",
    )
}

/// Builds the RFC 9470 step-up challenge, with the maximum sign-in age when the policy gave one.
fn step_up_challenge(max_age: Option<u64>) -> HeaderValue {
    let Some(seconds) = max_age else {
        return HeaderValue::from_static(CHALLENGE_STEP_UP);
    };
    HeaderValue::try_from(format!("{CHALLENGE_STEP_UP}, max_age={seconds}"))
        .unwrap_or(HeaderValue::from_static(CHALLENGE_STEP_UP))
}

/// Returns the error's retry delay in whole seconds, as `Retry-After` needs.
fn retry_after_secs(error: &Error) -> Option<u64> {
    error.retry_after().map(seconds_rounded_up)
}

fn seconds_rounded_up(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::to_bytes;
    use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
    use http::{HeaderMap, HeaderName};
    use serde_json::{Value, json};

    use super::*;
    use crate::error::{ConnectError, ProviderError};
    use crate::protocol::error_body::map_error_response;

    /// Text that must never reach a response body: a backend message with an internal URL and
    /// a request id.
    const SECRET_DETAIL: &str = "internal detail https://backend.internal/sdk/token req-123";

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: Value,
    }

    async fn reply(error: Error) -> Reply {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(!text.contains("backend.internal"), "{text}");
        assert!(!text.contains("req-123"), "{text}");
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap(),
        }
    }

    /// Maps a backend error response the way the vault client does.
    fn backend(status: u16, mut body: Value, headers: &[(&'static str, &str)]) -> Error {
        body["message"] = json!(SECRET_DETAIL);
        let mut header_map = HeaderMap::new();
        header_map.insert("x-request-id", "req-123".parse().unwrap());
        for (name, value) in headers {
            header_map.insert(HeaderName::from_static(name), value.parse().unwrap());
        }
        map_error_response(status, &header_map, body.to_string().as_bytes())
    }

    fn provider(status: u16) -> ProviderError {
        ProviderError {
            status,
            method: "GET".to_owned(),
            url: "https://api.github.com/user".to_owned(),
            grant_id: Some("grant-1".to_owned()),
            provider_id: Some("github".to_owned()),
            www_authenticate: None,
            body: SECRET_DETAIL.to_owned(),
        }
    }

    fn connect(kind: ConnectErrorKind) -> Error {
        Error::Connect(ConnectError::new(
            kind,
            Some("connect_denied".to_owned()),
            SECRET_DETAIL,
        ))
    }

    fn header(reply: &Reply, name: HeaderName) -> Option<&str> {
        reply.headers.get(name).map(|value| value.to_str().unwrap())
    }

    #[tokio::test]
    async fn missing_user_token() {
        let reply = reply(Error::MissingUserToken).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(header(&reply, WWW_AUTHENTICATE), Some("Bearer"));
        assert_eq!(reply.body["error"], "missing_bearer_token");
    }

    #[tokio::test]
    async fn user_token_rejected() {
        let error = backend(401, json!({"error": "jwt_validation_error"}), &[]);
        assert!(matches!(error, Error::UserTokenRejected(_)), "{error:?}");
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&reply, WWW_AUTHENTICATE),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(reply.body["error"], "invalid_token");
    }

    #[tokio::test]
    async fn step_up_required() {
        let body = json!({"error": "step_up_required", "max_session_age_seconds": 300});
        let error = backend(403, body, &[]);
        assert!(matches!(error, Error::StepUpRequired(_)), "{error:?}");
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&reply, WWW_AUTHENTICATE),
            Some(r#"Bearer error="insufficient_user_authentication", max_age=300"#)
        );
        assert_eq!(reply.body["error"], "insufficient_user_authentication");
    }

    #[tokio::test]
    async fn step_up_without_max_age() {
        let error = backend(403, json!({"error": "step_up_required"}), &[]);
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&reply, WWW_AUTHENTICATE),
            Some(r#"Bearer error="insufficient_user_authentication""#)
        );
    }

    #[tokio::test]
    async fn connect_required_rows() {
        let grant = |code: &str| json!({"error": code, "provider_id": "github"});
        let scope_mismatch = json!({
            "error": "scope_mismatch",
            "details": {"provider_id": "github", "grant_id": "grant-1"},
        });
        let cases = [
            (
                backend(404, grant("grant_not_found"), &[]),
                "grant_not_found",
            ),
            (
                backend(409, grant("no_delegated_grant"), &[]),
                "no_delegated_grant",
            ),
            (backend(403, scope_mismatch, &[]), "scope_reauth_required"),
            (
                backend(403, grant("credential_revoked"), &[]),
                "credential_revoked",
            ),
            (backend(403, grant("grant_expired"), &[]), "grant_expired"),
            (backend(403, grant("grant_revoked"), &[]), "grant_revoked"),
            (backend(410, grant("gone"), &[]), "grant_deleted"),
            (
                Error::ProviderUnauthorized(provider(401)),
                "provider_unauthorized",
            ),
        ];
        for (error, code) in cases {
            assert!(error.needs_connect_session(), "{code}: {error:?}");
            let reply = reply(error).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{code}");
            assert_eq!(reply.body["error"], code);
            assert_eq!(reply.body["connect_required"], true, "{code}");
            assert_eq!(reply.body["provider"], "github", "{code}");
            let message = reply.body["message"].as_str().unwrap();
            assert!(message.contains("github"), "{message}");
            assert!(message.contains("connect session"), "{message}");
        }
    }

    #[tokio::test]
    async fn connect_required_without_provider() {
        let error = backend(404, json!({"error": "grant_not_found"}), &[]);
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.body["connect_required"], true);
        assert!(reply.body.get("provider").is_none(), "{}", reply.body);
    }

    #[tokio::test]
    async fn other_errors_never_ask_for_connect() {
        let errors = [
            Error::MissingUserToken,
            backend(403, json!({"error": "policy_denied"}), &[]),
            Error::Provider(provider(500)),
            Error::Config(SECRET_DETAIL.to_owned()),
        ];
        for error in errors {
            assert!(!error.needs_connect_session());
            let reply = reply(error).await;
            assert!(
                reply.body.get("connect_required").is_none(),
                "{}",
                reply.body
            );
        }
    }

    #[tokio::test]
    async fn rate_limited_sets_retry_after() {
        let body = json!({"error": "rate_limit_exceeded"});
        let error = backend(429, body, &[("retry-after", "30")]);
        assert!(matches!(error, Error::RateLimited(_)), "{error:?}");
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&reply, RETRY_AFTER), Some("30"));
        assert_eq!(reply.body["error"], "rate_limited");
    }

    #[tokio::test]
    async fn rate_limited_without_delay() {
        let error = backend(429, json!({"error": "rate_limit_exceeded"}), &[]);
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&reply, RETRY_AFTER), None);
    }

    #[tokio::test]
    async fn quota_exceeded() {
        let body = json!({"error": "quota_exceeded", "retry_after": 60});
        let error = backend(429, body, &[]);
        assert!(matches!(error, Error::QuotaExceeded(_)), "{error:?}");
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&reply, RETRY_AFTER), Some("60"));
        assert_eq!(reply.body["error"], "quota_exceeded");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(seconds_rounded_up(Duration::from_millis(1500)), 2);
        assert_eq!(seconds_rounded_up(Duration::from_secs(3)), 3);
        assert_eq!(seconds_rounded_up(Duration::ZERO), 0);
    }

    #[tokio::test]
    async fn token_refresh_in_progress() {
        let body = json!({"error": "token_refresh_in_progress", "grant_id": "grant-1"});
        let error = backend(409, body, &[]);
        assert!(
            matches!(error, Error::TokenRefreshInProgress(_)),
            "{error:?}"
        );
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.body["error"], "temporarily_unavailable");
    }

    #[tokio::test]
    async fn provider_rate_limit() {
        let reply = reply(Error::Provider(provider(429))).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.body["error"], "provider_rate_limited");
    }

    #[tokio::test]
    async fn provider_error_is_bad_gateway() {
        let reply = reply(Error::Provider(provider(404))).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
        assert_eq!(reply.body["error"], "provider_error");
        assert_eq!(reply.body["provider_status"], 404);
        assert_eq!(reply.body["provider"], "github");
    }

    #[tokio::test]
    async fn upstream_failures_are_bad_gateway() {
        let errors = [
            backend(503, json!({"error": "unavailable"}), &[]),
            backend(502, json!({"error": "upstream"}), &[]),
            Error::MalformedResponse {
                endpoint: "/sdk/token",
                reason: SECRET_DETAIL.to_owned(),
            },
            Error::Network {
                target: "https://backend.internal".to_owned(),
                source: SECRET_DETAIL.into(),
            },
            Error::Decode(SECRET_DETAIL.to_owned()),
            connect(ConnectErrorKind::Flow),
        ];
        for error in errors {
            let reply = reply(error).await;
            assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
            assert_eq!(reply.body["error"], "bad_gateway");
        }
    }

    #[tokio::test]
    async fn timeout_is_gateway_timeout() {
        let error = Error::Timeout {
            target: "https://backend.internal".to_owned(),
            timeout: Duration::from_secs(30),
        };
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(reply.body["error"], "gateway_timeout");
    }

    #[tokio::test]
    async fn connect_denied() {
        let reply = reply(connect(ConnectErrorKind::Denied)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.body["error"], "connect_denied");
    }

    #[tokio::test]
    async fn connect_timeout() {
        let reply = reply(connect(ConnectErrorKind::Timeout)).await;
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(reply.body["error"], "connect_timeout");
    }

    #[tokio::test]
    async fn policy_rows_are_forbidden() {
        let cases = [
            (json!({"error": "policy_denied"}), "policy_violation"),
            (
                json!({"error": "redact_discharge_failed"}),
                "policy_violation",
            ),
            (
                json!({"error": "grant_not_delegable"}),
                "grant_not_delegable",
            ),
        ];
        for (body, code) in cases {
            let reply = reply(backend(403, body, &[])).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{code}");
            assert_eq!(reply.body["error"], code);
        }
    }

    #[tokio::test]
    async fn ambiguous_grant_is_conflict() {
        let body = json!({
            "error": "ambiguous_grant",
            "provider_id": "github",
            "account_identifiers": ["a@example.com", "b@example.com"],
        });
        let error = backend(409, body, &[]);
        assert!(matches!(error, Error::AmbiguousGrant(_)), "{error:?}");
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.body["error"], "ambiguous_grant");
        assert_eq!(reply.body["provider"], "github");
        assert!(!reply.body.to_string().contains("a@example.com"));
    }

    #[tokio::test]
    async fn label_conflict() {
        let error = backend(409, json!({"error": "sibling_label_conflict"}), &[]);
        assert!(matches!(error, Error::ManagedSecret(_)), "{error:?}");
        let reply = reply(error).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.body["error"], "label_conflict");
    }

    #[tokio::test]
    async fn application_mistakes_are_internal_errors() {
        let errors = [
            (Error::Config(SECRET_DETAIL.to_owned()), "Config"),
            (
                Error::InvalidRequest(SECRET_DETAIL.to_owned()),
                "InvalidRequest",
            ),
            (
                backend(
                    401,
                    json!({"error": "key_revoked", "hint": SECRET_DETAIL}),
                    &[],
                ),
                "KeyRejected",
            ),
            (
                backend(401, json!({"error": "agent_revoked"}), &[]),
                "Agent",
            ),
            (
                backend(403, json!({"error": "insufficient_scope"}), &[]),
                "InsufficientScope",
            ),
            (
                backend(
                    403,
                    json!({"error": "restricted_grant_requires_proxy"}),
                    &[],
                ),
                "RestrictedGrantRequiresProxy",
            ),
            (
                backend(422, json!({"error": "blocked_destination"}), &[]),
                "BlockedDestination",
            ),
            (
                backend(409, json!({"error": "credential_id_required"}), &[]),
                "ManagedSecret",
            ),
            (
                backend(422, json!({"error": "validation_error"}), &[]),
                "Backend",
            ),
            (connect(ConnectErrorKind::Config), "Connect"),
        ];
        for (error, variant) in errors {
            let debug = format!("{error:?}");
            assert!(debug.starts_with(variant), "{debug}");
            let reply = reply(error).await;
            assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{debug}");
            assert_eq!(
                reply.body,
                json!({"error": "internal_error", "message": "internal server error"}),
                "{debug}"
            );
        }
    }

    #[tokio::test]
    async fn body_has_only_error_and_message() {
        let reply = reply(Error::MissingUserToken).await;
        let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["error", "message"]);
        assert_eq!(
            header(&reply, http::header::CONTENT_TYPE),
            Some("application/json")
        );
    }

    #[tokio::test]
    async fn sign_in_and_approval_errors() {
        use crate::error::{ApprovalError, SignInError};

        let cases = [
            (
                Error::SignIn(SignInError::new(
                    SignInErrorKind::Failed,
                    Some("access_denied".into()),
                    SECRET_DETAIL,
                )),
                StatusCode::UNAUTHORIZED,
                "sign_in_failed",
            ),
            (
                Error::SignIn(SignInError::new(
                    SignInErrorKind::TimedOut,
                    None,
                    SECRET_DETAIL,
                )),
                StatusCode::GATEWAY_TIMEOUT,
                "sign_in_timeout",
            ),
            (
                Error::Approval(ApprovalError::new(
                    ApprovalErrorKind::Denied,
                    None,
                    SECRET_DETAIL,
                )),
                StatusCode::FORBIDDEN,
                "approval_denied",
            ),
            (
                Error::Approval(ApprovalError::new(
                    ApprovalErrorKind::Expired,
                    None,
                    SECRET_DETAIL,
                )),
                StatusCode::GATEWAY_TIMEOUT,
                "approval_timeout",
            ),
            (
                Error::Approval(ApprovalError::new(
                    ApprovalErrorKind::ExecutionFailed,
                    None,
                    SECRET_DETAIL,
                )),
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
            ),
        ];
        for (error, status, code) in cases {
            let reply = reply(error).await;
            assert_eq!(reply.status, status, "{code}");
            assert_eq!(reply.body["error"], code);
        }
    }
}
