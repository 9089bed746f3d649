//! The token endpoint, `POST /token`: the authorization-code grant here and the
//! refresh-token grant in [`refresh`](super::refresh).
//!
//! Requests are `application/x-www-form-urlencoded`; a JSON body gets 400 `invalid_request`.
//! Every response carries `Cache-Control: no-store` and `Pragma: no-cache`, and every error is
//! an RFC 6749 body `{"error", "error_description"}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::AuthState;
use super::body::{BodyFormat, parse_form, read_body};
use super::config::TOKEN_PATH;
use super::oauth_error::{OAuthError, excerpt, no_store};
use super::refresh::refresh_grant;
use super::register::store_failure;
use super::secret::{is_valid_code_verifier, new_access_token, new_refresh_token, verify_s256};
use super::store::{CodeRedemption, IssuedTokens, SecretHash, TokenGrant};

/// The route of the token endpoint.
pub(super) fn router() -> Router<Arc<AuthState>> {
    Router::new().route(TOKEN_PATH, post(token))
}

async fn token(State(state): State<Arc<AuthState>>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let body = read_body(&headers, body, BodyFormat::Form, "invalid_request").await?;
        let form = parse_form(&body)?;
        state.sweep_if_due().await;
        match required(&form, "grant_type")? {
            "authorization_code" => code_grant(&state, &form).await,
            "refresh_token" => refresh_grant(&state, &form).await,
            other => Err(OAuthError::bad_request(
                "unsupported_grant_type",
                format!(
                    "grant type {:?} is not supported: use authorization_code or refresh_token",
                    excerpt(other)
                ),
            )),
        }
    }
    .await;
    match result {
        Ok(tokens) => tokens.into_response(),
        Err(error) => error.into_response(),
    }
}

/// A successful token response.
pub(crate) struct TokenResponse {
    /// The new access token.
    pub(crate) access_token: String,
    /// Seconds until the access token expires.
    pub(crate) expires_in: u64,
    /// The new refresh token.
    pub(crate) refresh_token: String,
    /// The scopes of the access token.
    pub(crate) scopes: Vec<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        });
        if !self.scopes.is_empty() {
            body["scope"] = self.scopes.join(" ").into();
        }
        let mut response = (StatusCode::OK, axum::Json(body)).into_response();
        no_store(&mut response);
        response
    }
}

/// Returns a required form parameter.
///
/// # Errors
///
/// Returns 400 `invalid_request` when the parameter is missing or empty.
pub(crate) fn required<'a>(
    form: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, OAuthError> {
    match form.get(name).map(String::as_str) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(OAuthError::bad_request(
            "invalid_request",
            format!("the parameter {name} is missing"),
        )),
    }
}

/// Checks the optional `resource` parameter (RFC 8707) against the MCP endpoint.
///
/// # Errors
///
/// Returns 400 `invalid_target` for any other resource.
pub(crate) fn check_resource(
    state: &AuthState,
    form: &HashMap<String, String>,
) -> Result<(), OAuthError> {
    match form.get("resource") {
        Some(resource) if !state.config.resource_matches(resource) => Err(OAuthError::bad_request(
            "invalid_target",
            format!(
                "the resource {:?} is not served here: use {}",
                excerpt(resource),
                state.config.resource_url()
            ),
        )),
        _ => Ok(()),
    }
}

/// Exchanges an authorization code for tokens.
///
/// Every parameter is checked before the code is redeemed, so a malformed request leaves the
/// code usable. Once redeemed, the code is spent whatever the outcome: a wrong client,
/// redirect URI or verifier cannot try again.
async fn code_grant(
    state: &AuthState,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let client_id = required(form, "client_id")?;
    let verifier = required(form, "code_verifier")?;
    if !is_valid_code_verifier(verifier) {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "the code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'",
        ));
    }
    check_resource(state, form)?;

    let redemption = state
        .store
        .redeem_code(SecretHash::of(code))
        .await
        .map_err(|error| store_error(&error))?;
    let code = match redemption {
        CodeRedemption::Redeemed(code) => code,
        CodeRedemption::Replayed(family) => {
            tracing::debug!(target: "alter::mcp::auth", client_id, "a spent code was presented again; revoking its tokens");
            state
                .store
                .revoke_family(family)
                .await
                .map_err(|error| store_error(&error))?;
            return Err(invalid_grant("the code was already used"));
        }
        CodeRedemption::Unknown => return Err(invalid_grant("the code is invalid or expired")),
    };
    if code.client_id != client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "the redirect_uri differs from the one of the authorization request",
        ));
    }
    if !verify_s256(verifier, &code.code_challenge) {
        return Err(invalid_grant(
            "the code_verifier does not match the code_challenge",
        ));
    }

    let now = state.now();
    let lifetimes = state.config.lifetimes;
    let grant = TokenGrant {
        client_id: code.client_id,
        resource: code.resource,
        scopes: code.scopes,
        user_token: code.user_token,
        family: code.family,
        expires_at: now + lifetimes.access_token.as_secs(),
    };
    let access_token = new_access_token();
    let refresh_token = new_refresh_token();
    let tokens = IssuedTokens {
        access_hash: SecretHash::of(&access_token),
        access: grant.clone(),
        refresh_hash: SecretHash::of(&refresh_token),
        refresh: TokenGrant {
            expires_at: now + lifetimes.refresh_token.as_secs(),
            ..grant.clone()
        },
    };
    state
        .store
        .insert_tokens(tokens)
        .await
        .map_err(|error| store_error(&error))?;
    tracing::debug!(target: "alter::mcp::auth", client_id, "issued tokens for an authorization code");
    Ok(TokenResponse {
        access_token,
        expires_in: lifetimes.access_token.as_secs(),
        refresh_token,
        scopes: grant.scopes,
    })
}

/// Returns 400 `invalid_grant` with `description`.
pub(crate) fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::bad_request("invalid_grant", description)
}

/// Logs a store failure and maps it to `503 temporarily_unavailable`.
pub(crate) fn store_error(error: &super::store::StoreError) -> OAuthError {
    tracing::error!(target: "alter::mcp::auth", %error, "the token endpoint could not use its store");
    store_failure(error)
}
