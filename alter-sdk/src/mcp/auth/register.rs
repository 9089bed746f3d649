//! Dynamic client registration, `POST /register` (RFC 7591).
//!
//! Every client is public: it authenticates with PKCE, not a secret, so the only
//! `token_endpoint_auth_method` accepted is `none`. The stored and returned metadata are the
//! fields below, validated; other fields are ignored, as RFC 7591 (section 2) allows.
//!
//! | field | rule |
//! |---|---|
//! | `redirect_uris` | required; 1 to 10 URIs, see below |
//! | `client_name` | optional string, at most 200 characters |
//! | `grant_types` | `authorization_code`, optionally with `refresh_token`; default `["authorization_code"]` |
//! | `response_types` | `["code"]`, the default |
//! | `token_endpoint_auth_method` | `none`, the default |
//! | `application_type` | optional, `native` or `web` |
//! | `scope` | optional; the supported scopes among those listed are registered |
//!
//! A redirect URI uses `https`, or `http` on `localhost`, `127.0.0.1` or `[::1]`, has no
//! fragment, user name or password, and is at most 2048 bytes long.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::AuthState;
use super::body::{BodyFormat, read_body};
use super::config::{AuthConfig, REGISTER_PATH};
use super::oauth_error::{OAuthError, excerpt, no_store};
use super::redirect_uri::check_redirect_uri;
use super::secret::new_client_id;
use super::store::{RegisteredClient, StoreError};

/// The maximum number of redirect URIs one client may register.
pub(crate) const MAX_REDIRECT_URIS: usize = 10;
/// The maximum length of all of a client's redirect URIs together, in bytes. Real clients
/// register one to three short URIs; the limit keeps a full client store small.
pub(crate) const MAX_REDIRECT_URIS_BYTES: usize = 4096;
/// The maximum length of a client name, in characters.
pub(crate) const MAX_CLIENT_NAME_CHARS: usize = 200;

const INVALID_METADATA: &str = "invalid_client_metadata";
const INVALID_REDIRECT_URI: &str = "invalid_redirect_uri";

/// Returns the route of the registration endpoint.
pub(super) fn router() -> Router<Arc<AuthState>> {
    Router::new().route(REGISTER_PATH, post(register))
}

async fn register(State(state): State<Arc<AuthState>>, headers: HeaderMap, body: Body) -> Response {
    match register_client(&state, &headers, body).await {
        Ok(metadata) => {
            let mut response =
                (StatusCode::CREATED, axum::Json(Value::Object(metadata))).into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn register_client(
    state: &AuthState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, OAuthError> {
    let body = read_body(headers, body, BodyFormat::Json, INVALID_METADATA).await?;
    let request: Value = serde_json::from_slice(&body).map_err(|error| {
        OAuthError::bad_request(
            INVALID_METADATA,
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    let Value::Object(request) = request else {
        return Err(OAuthError::bad_request(
            INVALID_METADATA,
            "the body must be a JSON object of client metadata",
        ));
    };
    let mut metadata = validate_metadata(&request, &state.config)?;

    state.sweep_if_due().await;
    let now = state.now();
    let client_id = new_client_id();
    let mut response = Map::new();
    response.insert("client_id".to_owned(), Value::from(client_id.clone()));
    response.insert("client_id_issued_at".to_owned(), Value::from(now));
    response.append(&mut metadata.fields);
    let client = RegisteredClient {
        client_id: client_id.clone(),
        client_id_issued_at: now,
        metadata: response.clone(),
        redirect_uris: metadata.redirect_uris,
    };
    state.store.insert_client(client).await.map_err(|error| {
        tracing::error!(target: "alter::mcp::auth", %error, "client registration failed");
        store_failure(&error)
    })?;
    tracing::debug!(target: "alter::mcp::auth", client_id, "registered a client");
    Ok(response)
}

/// Maps a store failure to `503 temporarily_unavailable`: a full store frees up as records
/// expire, and an unreachable one may come back.
pub(crate) fn store_failure(error: &StoreError) -> OAuthError {
    let description = match error {
        StoreError::Full(_) => "the server is at capacity; try again later",
        _ => "the server cannot reach its storage; try again later",
    };
    OAuthError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        description,
    )
}

/// Validated registration metadata.
struct ClientMetadata {
    /// The response fields after `client_id` and `client_id_issued_at`, in response order.
    fields: Map<String, Value>,
    redirect_uris: Vec<String>,
}

fn validate_metadata(
    request: &Map<String, Value>,
    config: &AuthConfig,
) -> Result<ClientMetadata, OAuthError> {
    let redirect_uris = redirect_uris(request)?;
    let mut fields = Map::new();
    fields.insert(
        "redirect_uris".to_owned(),
        Value::from(redirect_uris.clone()),
    );
    if let Some(name) = optional_string(request, "client_name")? {
        if name.chars().count() > MAX_CLIENT_NAME_CHARS {
            return Err(invalid_metadata(format!(
                "client_name is longer than {MAX_CLIENT_NAME_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid_metadata("client_name contains a control character"));
        }
        fields.insert("client_name".to_owned(), Value::from(name));
    }

    let grant_types = string_list(request, "grant_types")?
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    for grant_type in &grant_types {
        if !matches!(grant_type.as_str(), "authorization_code" | "refresh_token") {
            return Err(invalid_metadata(format!(
                "grant type {:?} is not supported: use authorization_code and refresh_token",
                excerpt(grant_type)
            )));
        }
    }
    if !grant_types
        .iter()
        .any(|grant_type| grant_type == "authorization_code")
    {
        return Err(invalid_metadata(
            "grant_types must include authorization_code",
        ));
    }
    let response_types =
        string_list(request, "response_types")?.unwrap_or_else(|| vec!["code".to_owned()]);
    if response_types != ["code"] {
        return Err(invalid_metadata(
            "response_types must be [\"code\"], the only response type supported",
        ));
    }
    let auth_method = optional_string(request, "token_endpoint_auth_method")?
        .unwrap_or_else(|| "none".to_owned());
    if auth_method != "none" {
        return Err(invalid_metadata(format!(
            "token_endpoint_auth_method {:?} is not supported: register a public client with \"none\" and use PKCE",
            excerpt(&auth_method)
        )));
    }
    fields.insert("grant_types".to_owned(), Value::from(grant_types));
    fields.insert("response_types".to_owned(), Value::from(response_types));
    fields.insert(
        "token_endpoint_auth_method".to_owned(),
        Value::from(auth_method),
    );

    if let Some(application_type) = optional_string(request, "application_type")? {
        if !matches!(application_type.as_str(), "native" | "web") {
            return Err(invalid_metadata(format!(
                "application_type {:?} is invalid: use \"native\" or \"web\"",
                excerpt(&application_type)
            )));
        }
        fields.insert("application_type".to_owned(), Value::from(application_type));
    }
    if let Some(scope) = optional_string(request, "scope")? {
        let supported: Vec<&str> = scope
            .split(' ')
            .filter(|scope| config.scopes.iter().any(|supported| supported == scope))
            .collect();
        if !supported.is_empty() {
            fields.insert("scope".to_owned(), Value::from(supported.join(" ")));
        }
    }
    Ok(ClientMetadata {
        fields,
        redirect_uris,
    })
}

fn redirect_uris(request: &Map<String, Value>) -> Result<Vec<String>, OAuthError> {
    let Some(value) = request.get("redirect_uris") else {
        return Err(invalid_redirect_uri("redirect_uris is missing"));
    };
    let Value::Array(values) = value else {
        return Err(invalid_redirect_uri(
            "redirect_uris must be an array of strings",
        ));
    };
    if values.is_empty() {
        return Err(invalid_redirect_uri("redirect_uris is empty"));
    }
    if values.len() > MAX_REDIRECT_URIS {
        return Err(invalid_redirect_uri(format!(
            "redirect_uris has {} entries, more than the maximum of {MAX_REDIRECT_URIS}",
            values.len()
        )));
    }
    let mut uris = Vec::with_capacity(values.len());
    for value in values {
        let Value::String(uri) = value else {
            return Err(invalid_redirect_uri(
                "redirect_uris must be an array of strings",
            ));
        };
        check_redirect_uri(uri).map_err(invalid_redirect_uri)?;
        uris.push(uri.clone());
    }
    let total: usize = uris.iter().map(String::len).sum();
    if total > MAX_REDIRECT_URIS_BYTES {
        return Err(invalid_redirect_uri(format!(
            "the redirect URIs are {total} bytes together, more than the maximum of \
             {MAX_REDIRECT_URIS_BYTES}"
        )));
    }
    Ok(uris)
}

fn optional_string(
    request: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, OAuthError> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(invalid_metadata(format!("{field} must be a string"))),
    }
}

/// Reads an optional array of short strings; the types in this list are a handful of words.
fn string_list(
    request: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    const MAX_ENTRIES: usize = 10;
    let values = match request.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(values)) if values.len() <= MAX_ENTRIES => values,
        Some(Value::Array(_)) => {
            return Err(invalid_metadata(format!(
                "{field} has more than {MAX_ENTRIES} entries"
            )));
        }
        Some(_) => {
            return Err(invalid_metadata(format!(
                "{field} must be an array of strings"
            )));
        }
    };
    let mut list: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let Value::String(value) = value else {
            return Err(invalid_metadata(format!(
                "{field} must be an array of strings"
            )));
        };
        if !list.contains(value) {
            list.push(value.clone());
        }
    }
    Ok(Some(list))
}

fn invalid_metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request(INVALID_METADATA, description)
}

fn invalid_redirect_uri(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request(INVALID_REDIRECT_URI, description)
}

#[cfg(test)]
#[path = "register_tests.rs"]
mod tests;
