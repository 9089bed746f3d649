//! The signed sign-in endpoints: `POST /sdk/auth/session` creates a session (already completed
//! under auto-approve),
//! `POST /sdk/auth/poll` returns its status (holding the request open up to `wait_ms`), and
//! `POST /sdk/auth/verify-token` checks a user token.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Outcome;
use crate::dev::body::{JsonObject, wrong_type};
use crate::dev::clock::{rfc3339, unix_now};
use crate::dev::errors::ApiError;
use crate::dev::secret::Secret;
use crate::dev::server::DevState;
use crate::dev::wire::{self, code};

/// `POST /sdk/auth/session` with `{}`: returns 201 with `session_token`, `auth_url`,
/// `expires_in` and `expires_at`.
pub(in crate::dev) async fn create(
    State(state): State<Arc<DevState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = JsonObject::parse(&body)?;
    if let Some(key) = body.into_map().keys().next() {
        return Err(ApiError::invalid_request(format!(
            "unknown field `{key}`: a sign-in session is created with an empty object"
        )));
    }
    let outcome = match state.sign_in.auto_sign_in() {
        Some(user) => {
            let user_token = state
                .idp
                .mint(user, state.idp.token_lifetime())
                .map_err(ApiError::invalid_request)?;
            Outcome::Completed {
                user: user.to_owned(),
                user_token: Secret::new(user_token),
            }
        }
        None => Outcome::Pending,
    };
    let (session_token, session) = state.sign_in.create(outcome);
    match state.sign_in.auto_sign_in() {
        Some(user) => tracing::info!(
            target: "alter::dev::signin",
            user,
            "created a sign-in session, signed in at once by auto-approve"
        ),
        None => tracing::debug!(target: "alter::dev::signin", "created a sign-in session"),
    }
    let body = json!({
        "session_token": session_token,
        "auth_url": format!("{}/signin/{}", state.base_url, session.page_id),
        "expires_in": state.sign_in.lifetime().as_secs(),
        "expires_at": rfc3339(session.expires_at),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /sdk/auth/poll` with `{"session_token": …}` and optionally `"wait_ms"`, the longest
/// the request may be held open while the session is pending.
pub(in crate::dev) async fn poll(
    State(state): State<Arc<DevState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = JsonObject::parse(&body)?;
    let token = body.required_str("session_token")?;
    let wait = wait_ms(&body)?;
    let session = state
        .sign_in
        .wait_for_change(token, wait)
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                code::AUTH_SESSION_NOT_FOUND,
                "no sign-in session has this session_token; it may have been created by \
                 another DevVault instance or expired over an hour ago",
            )
        })?;
    if session.is_expired(unix_now()) {
        return Ok(Json(json!({"status": "expired"})));
    }
    Ok(Json(match session.outcome {
        Outcome::Pending => json!({"status": "pending"}),
        Outcome::Completed { user, user_token } => json!({
            "status": "completed",
            "user_token": user_token.expose(),
            "user_info": {
                "sub": user,
                "preferred_username": user,
                "iss": state.base_url,
            },
        }),
        Outcome::Failed { code, message } => json!({
            "status": "error",
            "error_code": code,
            "error_message": message,
        }),
    }))
}

/// `POST /sdk/auth/verify-token` with `{"token": …}`: returns `{"sub": user}` for a valid user
/// token and 401 `jwt_validation_error` otherwise.
pub(in crate::dev) async fn verify_token(
    State(state): State<Arc<DevState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = JsonObject::parse(&body)?;
    let token = body.required_str("token")?;
    let user = state.resolve_user(token)?;
    Ok(Json(json!({"sub": user, "iss": state.base_url})))
}

/// Reads `wait_ms`: absent, null or a whole number of milliseconds up to the long-poll limit.
fn wait_ms(body: &JsonObject) -> Result<Duration, ApiError> {
    let limit = wire::MAX_LONG_POLL.as_millis();
    let invalid = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::INVALID_REQUEST,
            format!("wait_ms must be a whole number of milliseconds from 0 to {limit}"),
        )
    };
    match body.get("wait_ms") {
        None | Some(Value::Null) => Ok(Duration::ZERO),
        Some(Value::Number(number)) => number
            .as_u64()
            .filter(|millis| u128::from(*millis) <= limit)
            .map(Duration::from_millis)
            .ok_or_else(invalid),
        Some(other) => Err(wrong_type("wait_ms", "a number", other)),
    }
}
