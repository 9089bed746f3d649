//! The signed connect endpoints: `POST /sdk/oauth/connect/session` creates a session and
//! `POST /sdk/oauth/connect/session/poll` returns its status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use url::Url;
use uuid::Uuid;

use super::{Outcome, SessionRequest, options, requested_scopes};
use crate::dev::body::{JsonObject, str_list, wrong_type};
use crate::dev::clock::{rfc3339, unix_now};
use crate::dev::errors::ApiError;
use crate::dev::server::DevState;
use crate::dev::store::Restrictions;
use crate::dev::verify::SignedCaller;
use crate::dev::wire::{self, code};

const MAX_LABEL_LEN: usize = 255;

/// `POST /sdk/oauth/connect/session`: returns `session_token`, `connect_url`, `expires_in` and
/// `expires_at`.
///
/// Honoured: `allowed_providers`, `return_url`, `direct`, `required_scopes`,
/// `requested_grant` (its `label`, and `restrictions`, which make the grant usable only
/// through proxy mode), `repair_grant_id`, `switch_account`, `grant_policy`, `agent`,
/// `delegable`, `scope_constraint` and `user_token` (required). `allowed_origin`, `metadata`
/// and `allow_user_policy_rules` are type-checked and otherwise ignored.
pub(in crate::dev) async fn create(
    State(state): State<Arc<DevState>>,
    Extension(caller): Extension<SignedCaller>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = JsonObject::parse(&body)?;
    check_ignored_fields(&body)?;
    let switch_account = body.optional_bool("switch_account")?.unwrap_or(false);
    let grant_policy = options::grant_policy(&body, unix_now())?;
    let scope_constraint = options::scope_constraint(&body)?;
    let agent = options::agent(&state, &body, &caller)?;
    let delegable = body.optional_bool("delegable")?;

    let user_token = body.optional_str("user_token")?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::USER_TOKEN_REQUIRED,
            "missing field `user_token`: a connect session needs the end user's token to know \
             whose grant it creates",
        )
    })?;
    let user = state.resolve_user(user_token)?;

    let providers = allowed_providers(&state, &body)?;
    let direct = body.optional_bool("direct")?.unwrap_or(false);
    if direct && providers.len() != 1 {
        return Err(ApiError::invalid_request(
            "`direct` needs exactly one provider in allowed_providers",
        ));
    }
    let return_url = body
        .optional_str("return_url")?
        .map(normalize_return_url)
        .transpose()?;
    let required_scopes = required_scopes(&state, &body)?;
    let (label, restrictions) = requested_grant(&body)?;
    let (providers, repair_grant_id) =
        repair_target(&state, &body, &user, providers, label.is_some())?;
    if repair_grant_id.is_some() && (switch_account || agent.is_some()) {
        return Err(ApiError::invalid_request(
            "repair_grant_id re-authorizes one existing grant, so it cannot be combined with \
             switch_account or agent",
        ));
    }

    let request = SessionRequest {
        user,
        providers,
        return_url,
        required_scopes,
        label,
        restrictions,
        repair_grant_id,
        switch_account,
        grant_policy,
        delegable,
        agent,
        scope_constraint,
    };
    let warnings = check_scope_constraint(&state, &request)?;
    let single_provider = request.providers.len() == 1;
    let (session_token, session) = state.connect.create(request);
    tracing::debug!(
        target: "alter::dev::connect",
        user = %session.request.user,
        providers = ?session.request.providers,
        "created a connect session"
    );
    let mut response = json!({
        "session_token": session_token,
        "connect_url": format!("{}/connect/{}", state.base_url, session.page_id),
        "expires_in": wire::CONNECT_SESSION_LIFETIME.as_secs(),
        "expires_at": rfc3339(session.expires_at),
        "single_provider": single_provider,
    });
    if !warnings.is_empty() {
        response["scope_constraint_warnings"] = Value::from(warnings);
    }
    Ok(Json(response))
}

/// Checks that the scope constraint leaves every offered provider a scope to ask for, and
/// returns a warning for each constraint entry that no requested scope matches.
fn check_scope_constraint(
    state: &DevState,
    request: &SessionRequest,
) -> Result<Vec<String>, ApiError> {
    let Some(constraint) = &request.scope_constraint else {
        return Ok(Vec::new());
    };
    let unconstrained = SessionRequest {
        scope_constraint: None,
        ..request.clone()
    };
    let mut requested: Vec<String> = Vec::new();
    for provider_id in &request.providers {
        let provider = state
            .provider(provider_id)
            .expect("sessions offer configured providers");
        if requested_scopes(provider, request).is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_SCOPE_CONSTRAINT,
                format!(
                    "scope_constraint leaves no scope to request from provider {provider_id:?}; \
                     include at least one of its scopes"
                ),
            )
            .with("provider_id", provider_id.as_str()));
        }
        requested.extend(requested_scopes(provider, &unconstrained));
    }
    Ok(options::scope_constraint_warnings(constraint, &requested))
}

/// `POST /sdk/oauth/connect/session/poll` with `{"session_token": …}`.
pub(in crate::dev) async fn poll(
    State(state): State<Arc<DevState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = JsonObject::parse(&body)?;
    let token = body.required_str("session_token")?;
    let session = state.connect.by_token(token).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code::SESSION_NOT_FOUND,
            "no connect session has this session_token; it may have been created by another \
             DevVault instance or expired over an hour ago",
        )
    })?;
    if session.is_expired(unix_now()) {
        return Ok(Json(json!({"status": "expired"})));
    }
    Ok(Json(match session.outcome {
        Outcome::Pending if session.declined.is_empty() => json!({"status": "pending"}),
        Outcome::Pending => {
            let declined: Vec<Value> = session
                .declined
                .iter()
                .map(|declined| {
                    json!({
                        "provider_id": declined.provider_id,
                        "error_code": declined.error_code,
                        "declined_at": rfc3339(declined.declined_at),
                    })
                })
                .collect();
            json!({"status": "pending", "declined_providers": declined})
        }
        Outcome::Completed(grants) => json!({"status": "completed", "grants": grants}),
        Outcome::Failed { code, message } => json!({
            "status": "error",
            "error": {"error_code": code, "error_message": message},
        }),
    }))
}

fn check_ignored_fields(body: &JsonObject) -> Result<(), ApiError> {
    body.optional_str("allowed_origin")?;
    body.optional_object("metadata")?;
    body.optional_bool("allow_user_policy_rules")?;
    Ok(())
}

fn allowed_providers(state: &DevState, body: &JsonObject) -> Result<Vec<String>, ApiError> {
    let Some(requested) = body.optional_str_list("allowed_providers")? else {
        return Ok(state
            .providers
            .iter()
            .map(|provider| provider.id.clone())
            .collect());
    };
    if requested.is_empty() {
        return Err(ApiError::invalid_request(
            "allowed_providers must not be empty; send null to allow every provider",
        ));
    }
    let mut providers: Vec<String> = Vec::with_capacity(requested.len());
    for id in requested {
        let id = id.trim().to_owned();
        check_provider(state, &id)?;
        if !providers.contains(&id) {
            providers.push(id);
        }
    }
    Ok(providers)
}

fn check_provider(state: &DevState, id: &str) -> Result<(), ApiError> {
    if state.provider(id).is_some() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        code::UNKNOWN_PROVIDER,
        format!(
            "no provider {id:?} is configured in this DevVault (configured: {})",
            state.provider_ids()
        ),
    )
    .with("provider_id", id))
}

/// Checks that `url` is an absolute http(s) URL and returns its serialized form, which is ASCII
/// and therefore a valid `Location` header value.
fn normalize_return_url(url: &str) -> Result<String, ApiError> {
    match Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(parsed.into())
        }
        _ => Err(ApiError::invalid_request(format!(
            "return_url {url:?} must be an absolute http or https URL"
        ))),
    }
}

fn required_scopes(
    state: &DevState,
    body: &JsonObject,
) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let Some(map) = body.optional_object("required_scopes")? else {
        return Ok(HashMap::new());
    };
    let mut scopes = HashMap::with_capacity(map.len());
    for (provider_id, list) in map {
        check_provider(state, provider_id)?;
        let field = format!("required_scopes.{provider_id}");
        let list = str_list(&field, list)?;
        if list.iter().any(|scope| scope.contains(char::is_whitespace)) {
            return Err(ApiError::invalid_request(format!(
                "{field} must list one scope per entry, without whitespace"
            )));
        }
        scopes.insert(provider_id.clone(), list);
    }
    Ok(scopes)
}

/// Reads `requested_grant`: its `label` (required) and optional `restrictions`.
fn requested_grant(body: &JsonObject) -> Result<(Option<String>, Option<Restrictions>), ApiError> {
    let Some(requested) = body.optional_object("requested_grant")? else {
        return Ok((None, None));
    };
    if let Some(key) = requested
        .keys()
        .find(|key| !matches!(key.as_str(), "label" | "restrictions"))
    {
        return Err(ApiError::invalid_request(format!(
            "requested_grant has an unknown field `{key}`; it accepts `label` and `restrictions`"
        )));
    }
    let restrictions = match requested.get("restrictions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(restrictions)) => Some(parse_restrictions(restrictions)?),
        Some(other) => {
            return Err(wrong_type(
                "requested_grant.restrictions",
                "an object or null",
                other,
            ));
        }
    };
    Ok((Some(label(requested)?), restrictions))
}

fn parse_restrictions(object: &Map<String, Value>) -> Result<Restrictions, ApiError> {
    if let Some(key) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "allowed_methods" | "allowed_endpoints"))
    {
        return Err(ApiError::invalid_request(format!(
            "requested_grant.restrictions has an unknown field `{key}`; it accepts \
             `allowed_methods` and `allowed_endpoints`"
        )));
    }
    let list = |key: &str| match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let field = format!("requested_grant.restrictions.{key}");
            let values = str_list(&field, value)?;
            if values.is_empty() {
                return Err(ApiError::invalid_request(format!(
                    "{field} must list at least one value"
                )));
            }
            Ok(Some(values))
        }
    };
    let allowed_methods = list("allowed_methods")?
        .map(|methods| methods.iter().map(|m| m.to_ascii_uppercase()).collect());
    Ok(Restrictions {
        allowed_methods,
        allowed_endpoints: list("allowed_endpoints")?,
    })
}

fn label(requested: &Map<String, Value>) -> Result<String, ApiError> {
    match requested.get("label") {
        Some(Value::String(label))
            if !label.is_empty() && label.chars().count() <= MAX_LABEL_LEN =>
        {
            Ok(label.clone())
        }
        Some(Value::String(_)) => Err(ApiError::invalid_request(format!(
            "requested_grant.label must be 1 to {MAX_LABEL_LEN} characters"
        ))),
        None | Some(Value::Null) => Err(ApiError::invalid_request(
            "missing field `requested_grant.label`",
        )),
        Some(other) => Err(wrong_type("requested_grant.label", "a string", other)),
    }
}

/// Applies `repair_grant_id`: the session then re-authorizes that grant of the user, and only
/// its provider can be chosen.
fn repair_target(
    state: &DevState,
    body: &JsonObject,
    user: &str,
    providers: Vec<String>,
    has_label: bool,
) -> Result<(Vec<String>, Option<Uuid>), ApiError> {
    let Some(grant_id) = body.optional_str("repair_grant_id")? else {
        return Ok((providers, None));
    };
    if has_label {
        return Err(ApiError::invalid_request(
            "repair_grant_id cannot be combined with requested_grant",
        ));
    }
    let grant = Uuid::try_parse(grant_id)
        .ok()
        .and_then(|id| state.store.get(id))
        .filter(|grant| grant.user == user)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                code::GRANT_NOT_FOUND,
                format!("no grant {grant_id:?} of this user to repair"),
            )
            .with("grant_id", grant_id)
        })?;
    if !providers.contains(&grant.provider_id) {
        return Err(ApiError::invalid_request(format!(
            "repair_grant_id names a grant for {:?}, which allowed_providers excludes",
            grant.provider_id
        )));
    }
    Ok((vec![grant.provider_id], Some(grant.id)))
}
