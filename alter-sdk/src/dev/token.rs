//! `POST /sdk/token`: resolves the grant a request names and hands out its provider token,
//! refreshing it first when it has expired.
//!
//! Two request shapes are accepted. Provider mode names `provider_id` and optionally `label`
//! and `account` to choose among the user's grants for that provider; grant mode names
//! `grant_id`. Both carry `reason`, `request` (`{"method", "url"}`) and the end user's
//! `user_token`. In grant mode the token is optional, and when present the grant must belong to
//! its user.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::body::{JsonObject, wrong_type};
use super::clock::{rfc3339, unix_now};
use super::delegation::{check_agent_use, delegated_to_agent};
use super::errors::ApiError;
use super::provider::TokenEndpointError;
use super::server::DevState;
use super::store::StoredGrant;
use super::verify::SignedCaller;
use super::wire::{DEFAULT_INJECTION_FORMAT, DEFAULT_INJECTION_HEADER, code};

/// The grant a token request names, directly or by provider and selectors.
#[derive(Debug)]
enum Target<'a> {
    Grant(&'a str),
    Provider {
        provider_id: &'a str,
        label: Option<&'a str>,
        account: Option<&'a str>,
    },
}

/// `POST /sdk/token`.
pub(super) async fn retrieve(
    State(state): State<Arc<DevState>>,
    Extension(caller): Extension<SignedCaller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = JsonObject::parse(&body)?;
    check_reason_and_request(&body)?;
    let grant = resolve_grant(&state, &body, caller.agent_id)?;
    if grant.restrictions.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::RESTRICTED_GRANT_REQUIRES_PROXY,
            "this grant is restricted, so its token is not handed out; use proxy mode",
        )
        .with("grant_id", grant.id.to_string())
        .with("provider_id", grant.provider_id.clone()));
    }
    let grant = ensure_fresh(&state, grant).await?;
    tracing::debug!(
        target: "alter::dev::token",
        user = %grant.user,
        provider = %grant.provider_id,
        grant_id = %grant.id,
        "served a provider token"
    );
    Ok(token_response(&state, &grant))
}

/// Resolves the grant a request body names: `grant_id`, or `provider_id` with the optional
/// `label` and `account` selectors, for the user of `user_token` or `app_user_id`. A managed
/// `agent` may use only grants delegated to it. A grant whose policy expiry has passed gets
/// 403 `grant_expired`.
pub(super) fn resolve_grant(
    state: &DevState,
    body: &JsonObject,
    agent: Option<Uuid>,
) -> Result<StoredGrant, ApiError> {
    let target = parse_target(body)?;
    let user = resolve_user(state, body)?;
    let grant = match target {
        Target::Grant(grant_id) => {
            let grant = grant_by_id(state, grant_id, user.as_deref())?;
            if let Some(agent) = agent {
                check_agent_use(&grant, agent)?;
            }
            grant
        }
        Target::Provider {
            provider_id,
            label,
            account,
        } => {
            let user = user.ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    code::USER_TOKEN_REQUIRED,
                    "a request by provider_id needs user_token (or app_user_id) to know whose \
                     grant to use",
                )
            })?;
            let grant = select_grant(state, &user, provider_id, label, account, agent)?;
            if let Some(agent) = agent {
                check_agent_use(&grant, agent)?;
            }
            grant
        }
    };
    if grant.is_expired(unix_now()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            code::GRANT_EXPIRED,
            "the grant expired under its grant policy; the user must connect again",
        )
        .with("grant_id", grant.id.to_string())
        .with("provider_id", grant.provider_id.clone())
        .with("app_user_id", grant.user.clone()));
    }
    Ok(grant)
}

fn parse_target(body: &JsonObject) -> Result<Target<'_>, ApiError> {
    let grant_id = body.optional_str("grant_id")?;
    let provider_id = body.optional_str("provider_id")?;
    let label = body.optional_str("label")?;
    let account = body.optional_str("account")?;
    match (grant_id, provider_id) {
        (Some(_), Some(_)) => Err(ApiError::invalid_request(
            "send either grant_id or provider_id, not both",
        )),
        (None, None) => Err(ApiError::invalid_request(
            "missing field `provider_id` or `grant_id`: name the provider to use the user's \
             grant for, or the grant itself",
        )),
        (Some(grant_id), None) => {
            let selectors = ["label", "account", "app_user_id"];
            if let Some(selector) = selectors
                .iter()
                .find(|key| body.get(key).is_some_and(|v| !v.is_null()))
            {
                return Err(ApiError::invalid_request(format!(
                    "`{selector}` chooses among a provider's grants and needs provider_id; \
                     grant_id already names one grant"
                )));
            }
            Ok(Target::Grant(grant_id))
        }
        (None, Some(provider_id)) => Ok(Target::Provider {
            provider_id,
            label,
            account,
        }),
    }
}

fn check_reason_and_request(body: &JsonObject) -> Result<(), ApiError> {
    body.optional_str("reason")?;
    let Some(request) = body.optional_object("request")? else {
        return Ok(());
    };
    for key in ["method", "url"] {
        match request.get(key) {
            Some(Value::String(text)) if !text.is_empty() => {}
            Some(Value::String(_)) => {
                return Err(ApiError::invalid_request(format!(
                    "field `request.{key}` must not be empty"
                )));
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("request.{key}"),
                    "a non-empty string",
                    other,
                ));
            }
            None => {
                return Err(ApiError::invalid_request(format!(
                    "missing field `request.{key}`"
                )));
            }
        }
    }
    Ok(())
}

/// Returns the user named by `user_token`, else by `app_user_id`, else none.
fn resolve_user(state: &DevState, body: &JsonObject) -> Result<Option<String>, ApiError> {
    let app_user_id = body.optional_str("app_user_id")?;
    let Some(user_token) = body.optional_str("user_token")? else {
        return Ok(app_user_id.map(str::to_owned));
    };
    let user = state.resolve_user(user_token)?;
    if app_user_id.is_some_and(|app_user_id| app_user_id != user) {
        return Err(ApiError::invalid_request(
            "app_user_id names another user than user_token; send one of them",
        ));
    }
    Ok(Some(user))
}

fn grant_by_id(
    state: &DevState,
    grant_id: &str,
    user: Option<&str>,
) -> Result<StoredGrant, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code::GRANT_NOT_FOUND,
            format!("no grant {grant_id:?} for this user"),
        )
        .with("grant_id", grant_id)
    };
    let id = Uuid::try_parse(grant_id).map_err(|_| not_found())?;
    let grant = state.store.get(id).ok_or_else(not_found)?;
    if user.is_some_and(|user| user != grant.user) {
        return Err(not_found());
    }
    Ok(grant)
}

fn select_grant(
    state: &DevState,
    user: &str,
    provider_id: &str,
    label: Option<&str>,
    account: Option<&str>,
    agent: Option<Uuid>,
) -> Result<StoredGrant, ApiError> {
    if state.provider(provider_id).is_none() {
        return Err(grant_not_found(
            provider_id,
            user,
            format!(
                "no provider {provider_id:?} is configured in this DevVault (configured: {})",
                state.provider_ids()
            ),
        ));
    }
    let mut candidates = state.store.for_user(user, provider_id);
    candidates.retain(|grant| {
        label.is_none_or(|label| grant.label.as_deref() == Some(label))
            && account.is_none_or(|account| {
                grant
                    .account_identifier
                    .as_deref()
                    .is_some_and(|identifier| identifier.eq_ignore_ascii_case(account))
            })
    });
    if let Some(agent) = agent {
        candidates = delegated_to_agent(candidates, agent, provider_id, user)?;
    }

    match candidates.len() {
        0 => {
            let mut message = format!("user {user:?} has no grant for provider {provider_id:?}");
            if let Some(label) = label {
                message.push_str(&format!(" with label {label:?}"));
            }
            if let Some(account) = account {
                message.push_str(&format!(" for account {account:?}"));
            }
            message.push_str("; create a connect session to let the user connect it");
            Err(grant_not_found(provider_id, user, message))
        }
        1 => Ok(candidates.remove(0)),
        _ => Err(ambiguous(provider_id, account.is_some(), &candidates)),
    }
}

fn grant_not_found(provider_id: &str, user: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code::GRANT_NOT_FOUND, message)
        .with("provider_id", provider_id)
        .with("app_user_id", user)
}

fn ambiguous(provider_id: &str, account_was_provided: bool, grants: &[StoredGrant]) -> ApiError {
    let mut account_identifiers: Vec<&str> = grants
        .iter()
        .filter_map(|grant| grant.account_identifier.as_deref())
        .collect();
    account_identifiers.dedup();
    let candidates: Vec<Value> = grants
        .iter()
        .map(|grant| {
            json!({
                "grant_id": grant.id.to_string(),
                "label": grant.label,
                "account_identifier": grant.account_identifier,
            })
        })
        .collect();
    let grant_ids: Vec<String> = grants.iter().map(|grant| grant.id.to_string()).collect();
    ApiError::new(
        StatusCode::CONFLICT,
        code::AMBIGUOUS_GRANT,
        format!(
            "{} grants match provider {provider_id:?}; pass a label or an account to choose one",
            grants.len()
        ),
    )
    .with("provider_id", provider_id)
    .with("account_identifiers", account_identifiers)
    .with("account_was_provided", account_was_provided)
    .with("grant_ids", grant_ids)
    .with("candidates", candidates)
}

/// Returns `grant` with a usable access token, refreshing it at the provider when it has
/// expired. Concurrent requests for one grant refresh once: the later ones wait for the lock
/// and then find the new token.
pub(super) async fn ensure_fresh(
    state: &DevState,
    grant: StoredGrant,
) -> Result<StoredGrant, ApiError> {
    if !grant.needs_refresh(unix_now()) {
        return Ok(grant);
    }
    let lock = Arc::clone(&grant.refresh_lock);
    let _refreshing = lock.lock().await;
    let grant = state.store.get(grant.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::GONE,
            "grant_deleted",
            "the grant was deleted while its token was refreshed",
        )
    })?;
    if !grant.needs_refresh(unix_now()) {
        return Ok(grant);
    }

    let Some(refresh_token) = &grant.refresh_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            code::GRANT_EXPIRED,
            "the provider token expired and the provider issued no refresh token; the user \
             must connect again",
        )
        .with("grant_id", grant.id.to_string())
        .with("provider_id", grant.provider_id.clone()));
    };
    let provider = state.provider(&grant.provider_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            code::PROVIDER_ERROR,
            format!("provider {:?} is no longer configured", grant.provider_id),
        )
    })?;
    match provider.refresh(&state.http, refresh_token).await {
        Ok(tokens) => {
            let refreshed = state
                .store
                .replace_tokens(grant.id, tokens)
                .ok_or_else(|| {
                    ApiError::new(StatusCode::GONE, "grant_deleted", "the grant was deleted")
                })?;
            tracing::debug!(
                target: "alter::dev::token",
                grant_id = %grant.id,
                provider = %grant.provider_id,
                "refreshed an expired provider token"
            );
            Ok(refreshed)
        }
        Err(TokenEndpointError::Rejected { error, description }) if error == "invalid_grant" => {
            tracing::debug!(
                target: "alter::dev::token",
                grant_id = %grant.id,
                provider = %grant.provider_id,
                description = description.as_deref().unwrap_or(""),
                "the provider rejected the refresh token"
            );
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code::CREDENTIAL_REVOKED,
                "the provider rejected the refresh token; the user must connect again",
            )
            .with("grant_id", grant.id.to_string())
            .with("provider_id", grant.provider_id.clone()))
        }
        Err(error) => {
            tracing::warn!(
                target: "alter::dev::token",
                grant_id = %grant.id,
                provider = %grant.provider_id,
                %error,
                "refreshing a provider token failed"
            );
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                code::PROVIDER_ERROR,
                format!("refreshing the provider token failed: {error}"),
            )
            .with("provider_id", grant.provider_id.clone()))
        }
    }
}

fn token_response(state: &DevState, grant: &StoredGrant) -> Response {
    let (injection_header, injection_format) = state.provider(&grant.provider_id).map_or(
        (DEFAULT_INJECTION_HEADER, DEFAULT_INJECTION_FORMAT),
        |provider| (&provider.injection_header, &provider.injection_format),
    );
    let now = unix_now();
    let mut body = json!({
        "access_token": grant.access_token.expose(),
        "token_type": "Bearer",
        "expires_in": grant.expires_in(now),
        "scopes": grant.scopes,
        "grant_id": grant.id.to_string(),
        "provider_id": grant.provider_id,
        "token_generation": grant.token_generation.to_string(),
        "injection_header": injection_header,
        "injection_format": injection_format,
    });
    if let Some(expires_at) = grant.expires_at {
        body["expires_at"] = Value::String(rfc3339(expires_at));
    }
    if state.scope_reports.is_flagged(grant.id) {
        body["scope_mismatch"] = Value::Bool(true);
    }
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
