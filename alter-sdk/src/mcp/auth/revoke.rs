//! The revocation endpoint, `POST /revoke` (RFC 7009).
//!
//! The form carries `token` and optionally `token_type_hint` and `client_id`. Revoking a
//! refresh token revokes every token issued from the same authorization; revoking an access
//! token revokes that token only. The hint only sets which kind is looked up first, so a
//! wrong hint still revokes the token. An unknown, expired or already revoked token gets 200
//! too, as RFC 7009 (section 2.2) requires, so the response reveals nothing about the token.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use super::AuthState;
use super::body::{BodyFormat, parse_form, read_body};
use super::config::REVOKE_PATH;
use super::oauth_error::{OAuthError, no_store};
use super::store::SecretHash;
use super::token::{required, store_error};

/// Returns the route of the revocation endpoint.
pub(super) fn router() -> Router<Arc<AuthState>> {
    Router::new().route(REVOKE_PATH, post(revoke))
}

async fn revoke(State(state): State<Arc<AuthState>>, headers: HeaderMap, body: Body) -> Response {
    match revoke_token(&state, &headers, body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(
    state: &AuthState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), OAuthError> {
    let body = read_body(headers, body, BodyFormat::Form, "invalid_request").await?;
    let form = parse_form(&body)?;
    let token = required(&form, "token")?;
    let hash = SecretHash::of(token);
    let client_id = form.get("client_id").map(String::as_str);
    let refresh_first = form.get("token_type_hint").map(String::as_str) == Some("refresh_token");

    if refresh_first {
        if !revoke_refresh(state, hash, client_id).await? {
            revoke_access(state, hash, client_id).await?;
        }
    } else if !revoke_access(state, hash, client_id).await? {
        revoke_refresh(state, hash, client_id).await?;
    }
    Ok(())
}

/// Revokes the refresh token with `hash` and its family; returns false when there is none.
async fn revoke_refresh(
    state: &AuthState,
    hash: SecretHash,
    client_id: Option<&str>,
) -> Result<bool, OAuthError> {
    let grant = state
        .store
        .refresh_token(hash)
        .await
        .map_err(|error| store_error(&error))?;
    let Some(grant) = grant else {
        return Ok(false);
    };
    check_client(client_id, &grant.client_id)?;
    state
        .store
        .revoke_refresh_token(hash)
        .await
        .map_err(|error| store_error(&error))?;
    tracing::debug!(target: "alter::mcp::auth", client_id = grant.client_id, "revoked a refresh token and its family");
    Ok(true)
}

/// Revokes the access token with `hash`; returns false when there is none.
async fn revoke_access(
    state: &AuthState,
    hash: SecretHash,
    client_id: Option<&str>,
) -> Result<bool, OAuthError> {
    let grant = state
        .store
        .access_token(hash)
        .await
        .map_err(|error| store_error(&error))?;
    let Some(grant) = grant else {
        return Ok(false);
    };
    check_client(client_id, &grant.client_id)?;
    state
        .store
        .revoke_access_token(hash)
        .await
        .map_err(|error| store_error(&error))?;
    tracing::debug!(target: "alter::mcp::auth", client_id = grant.client_id, "revoked an access token");
    Ok(true)
}

/// Checks that a client that names itself revokes only its own tokens (RFC 7009, section 2.1).
fn check_client(client_id: Option<&str>, owner: &str) -> Result<(), OAuthError> {
    match client_id {
        Some(client_id) if client_id != owner => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the token was issued to another client",
        )),
        _ => Ok(()),
    }
}
