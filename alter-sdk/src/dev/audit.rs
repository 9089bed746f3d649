//! `POST /sdk/oauth/audit/api-call`: stores the audit row a client writes after each provider
//! call made with a retrieved credential.
//!
//! A row carries all of these keys, in any order: `grant_id`, `provider_id`,
//! `token_generation`, `method`, `url`, `request_headers`, `request_body`, `response_status`,
//! `response_headers`, `response_body`, `latency_ms`, `reason`, `context`. DevVault checks each
//! one's type, so a client that drops or misspells a field learns it from the 400 response.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::body::{JsonObject, kind, wrong_type};
use super::errors::ApiError;
use super::server::DevState;
use super::store::AuditRecord;
use super::verify::SignedCaller;
use super::wire::code;

const ROW_KEYS: &str = "grant_id, provider_id, token_generation, method, url, request_headers, \
                        request_body, response_status, response_headers, response_body, \
                        latency_ms, reason, context";

/// `POST /sdk/oauth/audit/api-call`: returns 201 once the row is stored.
pub(super) async fn record(
    State(state): State<Arc<DevState>>,
    Extension(caller): Extension<SignedCaller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let row = JsonObject::parse(&body)?.into_map();
    let grant_id = string(&row, "grant_id")?;
    let provider_id = string(&row, "provider_id")?;
    let token_generation = nullable_string(&row, "token_generation")?;
    let method = string(&row, "method")?;
    let url = string(&row, "url")?;
    object(&row, "request_headers")?;
    present(&row, "request_body")?;
    let response_status = integer(&row, "response_status", 999)?;
    nullable_object(&row, "response_headers")?;
    string(&row, "response_body")?;
    let latency_ms = integer(&row, "latency_ms", u64::MAX)?;
    let reason = nullable_string(&row, "reason")?;
    let context = nullable_object(&row, "context")?;
    if let Some(context) = context
        && let Some((key, value)) = context.iter().find(|(_, value)| !value.is_string())
    {
        return Err(wrong_type(&format!("context.{key}"), "a string", value));
    }

    let grant = Uuid::try_parse(grant_id)
        .ok()
        .and_then(|id| state.store.get(id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                code::GRANT_NOT_FOUND,
                format!("no grant {grant_id:?}; send the grant_id of the token response"),
            )
            .with("grant_id", grant_id)
        })?;
    if !provider_id.is_empty() && provider_id != grant.provider_id {
        return Err(ApiError::invalid_request(format!(
            "provider_id {provider_id:?} does not match the grant's provider {:?}",
            grant.provider_id
        )));
    }
    if method.is_empty() || url.is_empty() {
        return Err(ApiError::invalid_request(
            "method and url must not be empty",
        ));
    }

    let record = AuditRecord {
        user: grant.user.clone(),
        grant_id: grant.id,
        provider_id: provider_id.to_owned(),
        token_generation: token_generation.map(str::to_owned),
        method: method.to_owned(),
        url: url.to_owned(),
        response_status: u16::try_from(response_status).expect("checked to be at most 999"),
        latency_ms,
        reason: reason.map(str::to_owned),
        context: context.cloned(),
        key_type: caller.key_type,
        caller: caller.caller,
        caller_type: caller.caller_type,
        header_context: caller.context,
        row,
        received_at: SystemTime::now(),
    };
    tracing::debug!(
        target: "alter::dev::audit",
        user = %record.user,
        grant_id = %record.grant_id,
        method = %record.method,
        status = record.response_status,
        "stored an audit row"
    );
    let id = Uuid::new_v4();
    state.store.record_audit(record);
    Ok((StatusCode::CREATED, Json(json!({"id": id.to_string()}))).into_response())
}

fn present<'a>(row: &'a Map<String, Value>, key: &str) -> Result<&'a Value, ApiError> {
    row.get(key).ok_or_else(|| {
        ApiError::invalid_request(format!(
            "missing field `{key}`; an audit row carries all of: {ROW_KEYS}"
        ))
    })
}

fn string<'a>(row: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    match present(row, key)? {
        Value::String(text) => Ok(text),
        other => Err(wrong_type(key, "a string", other)),
    }
}

fn nullable_string<'a>(
    row: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match present(row, key)? {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        other => Err(wrong_type(key, "a string or null", other)),
    }
}

fn object<'a>(row: &'a Map<String, Value>, key: &str) -> Result<&'a Map<String, Value>, ApiError> {
    match present(row, key)? {
        Value::Object(map) => Ok(map),
        other => Err(wrong_type(key, "an object", other)),
    }
}

fn nullable_object<'a>(
    row: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match present(row, key)? {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(wrong_type(key, "an object or null", other)),
    }
}

fn integer(row: &Map<String, Value>, key: &str, max: u64) -> Result<u64, ApiError> {
    let value = present(row, key)?;
    value
        .as_u64()
        .filter(|number| *number <= max)
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "field `{key}` must be an integer from 0 to {max}, not {}",
                match value {
                    Value::Number(number) => number.to_string(),
                    other => kind(other).to_owned(),
                }
            ))
        })
}
