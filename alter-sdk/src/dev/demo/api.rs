//! The demo provider's JSON API. It checks bearer tokens and their scopes the way OAuth 2.0
//! resource servers do (RFC 6750). A bad token gets 401 with `error="invalid_token"`, and a
//! token that lacks a scope gets 403 with `error="insufficient_scope"` and the missing `scope`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Authorization, MAX_MESSAGES_PER_ACCOUNT, Message};
use crate::dev::body::JsonObject;
use crate::dev::clock::{rfc3339, unix_now};
use crate::dev::errors::ApiError;
use crate::dev::server::DevState;

const REALM: &str = "DevVault demo";
const READ_SCOPE: &str = "messages.read";
const WRITE_SCOPE: &str = "messages.write";
const MAX_MESSAGE_CHARS: usize = 500;

/// `GET /demo/api/me`: the account the token belongs to, and its scopes.
pub(in crate::dev) async fn me(State(state): State<Arc<DevState>>, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers, None) {
        Ok(authorization) => Json(json!({
            "user": authorization.account,
            "scopes": authorization.scopes,
        }))
        .into_response(),
        Err(response) => response,
    }
}

/// `GET /demo/api/messages`: the account's messages, oldest first.
pub(in crate::dev) async fn list_messages(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
) -> Response {
    let authorization = match authenticate(&state, &headers, Some(READ_SCOPE)) {
        Ok(authorization) => authorization,
        Err(response) => return response,
    };
    let messages = state
        .demo
        .lock()
        .messages
        .get(&authorization.account)
        .cloned()
        .unwrap_or_default();
    Json(json!({ "messages": messages })).into_response()
}

/// `POST /demo/api/messages` with `{"text": …}`: stores a message and returns it with 201.
pub(in crate::dev) async fn post_message(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let authorization = match authenticate(&state, &headers, Some(WRITE_SCOPE)) {
        Ok(authorization) => authorization,
        Err(response) => return response,
    };
    let text = match body
        .map_err(|rejection| ApiError::unreadable_body(&rejection))
        .and_then(|body| message_text(&body))
    {
        Ok(text) => text,
        Err(error) => return error.into_response(),
    };

    let mut demo = state.demo.lock();
    demo.next_message_id += 1;
    let message = Message {
        id: demo.next_message_id,
        from: authorization.account.clone(),
        text,
        created_at: rfc3339(unix_now()),
    };
    let messages = demo.messages.entry(authorization.account).or_default();
    if messages.len() == MAX_MESSAGES_PER_ACCOUNT {
        messages.remove(0);
    }
    messages.push(message.clone());
    drop(demo);
    (StatusCode::CREATED, Json(message)).into_response()
}

fn message_text(body: &[u8]) -> Result<String, ApiError> {
    let body = JsonObject::parse(body)?;
    let text = body.required_str("text")?;
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid_request(format!(
            "field `text` must be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(text.to_owned())
}

/// Checks the bearer token and, when given, that it carries `required_scope`.
fn authenticate(
    state: &DevState,
    headers: &HeaderMap,
    required_scope: Option<&str>,
) -> Result<Authorization, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(challenge(
            StatusCode::UNAUTHORIZED,
            format!(r#"Bearer realm="{REALM}""#),
            json!({
                "error": "unauthorized",
                "message": "missing bearer token; send Authorization: Bearer <access token>",
            }),
        ));
    };

    let now = unix_now();
    let found = state
        .demo
        .lock()
        .access_tokens
        .get(token)
        .map(|grant| (grant.authorization.clone(), grant.expires_at));
    let authorization = match found {
        Some((authorization, expires_at)) if expires_at > now => authorization,
        Some(_) => return Err(invalid_token("the access token expired")),
        None => return Err(invalid_token("the access token is unknown")),
    };
    if let Some(scope) = required_scope
        && !authorization.scopes.iter().any(|granted| granted == scope)
    {
        return Err(challenge(
            StatusCode::FORBIDDEN,
            format!(
                r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}", error_description="this endpoint needs the {scope} scope""#
            ),
            json!({
                "error": "insufficient_scope",
                "message": format!("this endpoint needs the {scope} scope"),
                "scope": scope,
            }),
        ));
    }
    Ok(authorization)
}

fn invalid_token(description: &str) -> Response {
    challenge(
        StatusCode::UNAUTHORIZED,
        format!(
            r#"Bearer realm="{REALM}", error="invalid_token", error_description="{description}""#
        ),
        json!({"error": "invalid_token", "message": description}),
    )
}

fn challenge(status: StatusCode, www_authenticate: String, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&www_authenticate).expect("challenges are ASCII"),
    );
    response
}
