//! `POST /sdk/proxy`: DevVault calls the provider itself with the grant's token, records the
//! audit row, and returns the provider's response. When approvals are required, it keeps the
//! call and returns 202 with the approval to wait for.
//!
//! The body names the grant like `/sdk/token` does (`grant_id`, or `provider_id` with `label`
//! and `account`, plus `user_token` or `app_user_id`) and describes the provider request:
//! `method`, `url`, and optionally `headers` and `query_params` (objects of strings), `body`
//! (any JSON, sent as the JSON body) and `reason`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use url::Url;
use uuid::Uuid;

use super::approval::absolute_pending_urls;
use super::body::{JsonObject, wrong_type};
use super::errors::ApiError;
use super::server::DevState;
use super::store::{AuditRecord, StoredGrant};
use super::token::{ensure_fresh, resolve_grant};
use super::verify::SignedCaller;
use super::wire::{DEFAULT_INJECTION_FORMAT, DEFAULT_INJECTION_HEADER, code};
use crate::protocol::provider_url::validate_provider_url;
use crate::protocol::proxy::check_proxy_header_name;

/// The longest DevVault waits for the provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);
/// Maximum body bytes returned. A longer body is cut and flagged `body_truncated`.
const MAX_RESULT_BODY: usize = 1024 * 1024;

/// A provider request described by a proxy call.
#[derive(Clone, Debug)]
pub(super) struct ProxyCall {
    pub(super) method: reqwest::Method,
    pub(super) url: Url,
    pub(super) headers: Vec<(String, String)>,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Value>,
    pub(super) reason: Option<String>,
}

impl ProxyCall {
    /// Reads and checks the provider request of a proxy body.
    fn parse(body: &JsonObject) -> Result<Self, ApiError> {
        let method = body.required_str("method")?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .ok()
            .filter(|parsed| parsed.as_str() == method.to_ascii_uppercase())
            .ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "method {method:?} is not an upper-case HTTP method"
                ))
            })?;
        let url = validate_provider_url(body.required_str("url")?)
            .map_err(|error| blocked(error.to_string()))?;
        let headers = string_pairs(body, "headers")?;
        for (name, value) in &headers {
            check_proxy_header_name(name).map_err(ApiError::invalid_request)?;
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(ApiError::invalid_request(format!(
                    "the value of header `{name}` is not a valid header value"
                )));
            }
        }
        Ok(Self {
            method,
            url,
            headers,
            query: string_pairs(body, "query_params")?,
            body: body.get("body").filter(|value| !value.is_null()).cloned(),
            reason: body.optional_str("reason")?.map(str::to_owned),
        })
    }
}

/// `POST /sdk/proxy`.
pub(super) async fn proxy(
    State(state): State<Arc<DevState>>,
    Extension(caller): Extension<SignedCaller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = JsonObject::parse(&body)?;
    let call = ProxyCall::parse(&body)?;
    let grant = resolve_grant(&state, &body, caller.agent_id)?;
    if let Some(reason) = grant
        .restrictions
        .as_ref()
        .and_then(|restrictions| restrictions.violation(call.method.as_str(), call.url.as_str()))
    {
        return Err(
            ApiError::new(StatusCode::FORBIDDEN, code::POLICY_DENIED, reason)
                .with("grant_id", grant.id.to_string()),
        );
    }

    if state.approvals.required() {
        let mut pending = state.approvals.create(&grant, call, caller);
        absolute_pending_urls(&state, &mut pending);
        tracing::debug!(
            target: "alter::dev::proxy",
            approval_id = %pending["approval_id"],
            grant_id = %grant.id,
            "held a proxy call for approval"
        );
        return Ok((StatusCode::ACCEPTED, Json(pending)).into_response());
    }
    let result = execute(&state, grant, &call, &caller, None).await?;
    Ok(Json(result).into_response())
}

/// Calls the provider with the grant's token, records the audit row, and returns the result
/// object.
pub(super) async fn execute(
    state: &DevState,
    grant: StoredGrant,
    call: &ProxyCall,
    caller: &SignedCaller,
    approval_id: Option<Uuid>,
) -> Result<Value, ApiError> {
    let grant = ensure_fresh(state, grant).await?;
    let (injection_header, injection_format) = state.provider(&grant.provider_id).map_or(
        (DEFAULT_INJECTION_HEADER, DEFAULT_INJECTION_FORMAT),
        |provider| (&provider.injection_header, &provider.injection_format),
    );
    let mut url = call.url.clone();
    if !call.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&call.query);
    }
    let mut request = state
        .http
        .request(call.method.clone(), url)
        .timeout(PROVIDER_TIMEOUT);
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    let credential = injection_format.replacen("{token}", grant.access_token.expose(), 1);
    request = request.header(injection_header, credential);
    if let Some(body) = &call.body {
        request = request.json(body);
    }

    let started = Instant::now();
    let outcome = send(request).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (status, headers, body) = match &outcome {
        Ok(response) => response.clone(),
        Err(_) => (0, Map::new(), Vec::new()),
    };
    record_audit(
        state,
        &grant,
        call,
        caller,
        approval_id,
        (status, &headers, latency_ms),
    );
    if let Err(message) = outcome {
        tracing::debug!(
            target: "alter::dev::proxy",
            grant_id = %grant.id,
            reason = %message,
            "the proxied provider request failed"
        );
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            code::PROVIDER_ERROR,
            format!("the provider request failed: {message}"),
        ));
    }

    let truncated = body.len() > MAX_RESULT_BODY;
    let body = &body[..body.len().min(MAX_RESULT_BODY)];
    Ok(json!({
        "status_code": status,
        "headers": headers,
        "body_b64": STANDARD.encode(body),
        "body_truncated": truncated,
        "duration_ms": latency_ms,
        // The backend explains here a 401 or 403 it attributes to the wrong API surface rather
        // than to the credential. DevVault cannot tell them apart, so it never sends one.
        "credential_hint": null,
        "approval_id": approval_id.map(|id| id.to_string()),
    }))
}

type ProviderAnswer = (u16, Map<String, Value>, Vec<u8>);

/// Sends the provider request; a failure is described without the URL, whose query may carry
/// the caller's parameters.
async fn send(request: reqwest::RequestBuilder) -> Result<ProviderAnswer, String> {
    let response = request
        .send()
        .await
        .map_err(|error| error.without_url().to_string())?;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for name in response.headers().keys() {
        let values: Vec<&str> = response
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| error.without_url().to_string())?;
    Ok((status, headers, body.to_vec()))
}

fn record_audit(
    state: &DevState,
    grant: &StoredGrant,
    call: &ProxyCall,
    caller: &SignedCaller,
    approval_id: Option<Uuid>,
    (status, response_headers, latency_ms): (u16, &Map<String, Value>, u64),
) {
    let request_headers: Map<String, Value> = call
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let mut row = Map::new();
    row.insert("source".into(), json!("proxy"));
    row.insert(
        "approval_id".into(),
        json!(approval_id.map(|id| id.to_string())),
    );
    row.insert("request_headers".into(), Value::Object(request_headers));
    row.insert(
        "request_body".into(),
        call.body.clone().unwrap_or(Value::Null),
    );
    row.insert(
        "response_headers".into(),
        Value::Object(response_headers.clone()),
    );
    state.store.record_audit(AuditRecord {
        user: grant.user.clone(),
        grant_id: grant.id,
        provider_id: grant.provider_id.clone(),
        token_generation: Some(grant.token_generation.to_string()),
        method: call.method.to_string(),
        url: call.url.to_string(),
        response_status: status,
        latency_ms,
        reason: call.reason.clone(),
        context: caller.context.clone(),
        key_type: caller.key_type,
        caller: caller.caller.clone(),
        caller_type: caller.caller_type.clone(),
        header_context: caller.context.clone(),
        row,
        received_at: SystemTime::now(),
    });
}

/// Reads an optional object of string values as name-value pairs.
fn string_pairs(body: &JsonObject, key: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Some(object) = body.optional_object(key)? else {
        return Ok(Vec::new());
    };
    object
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name.clone(), text.clone())),
            other => Err(wrong_type(&format!("{key}.{name}"), "a string", other)),
        })
        .collect()
}

/// 422 `blocked_destination`, the backend's response for a URL it does not call.
fn blocked(reason: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code::BLOCKED_DESTINATION,
        format!("the proxy does not call this URL: {reason}"),
    )
}
