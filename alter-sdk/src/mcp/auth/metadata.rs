//! The discovery documents: protected resource metadata (RFC 9728) and authorization server
//! metadata (RFC 8414).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::AuthState;
use super::config::{
    AS_METADATA_ROOT_PATH, AUTHORIZE_PATH, AuthConfig, PRM_ROOT_PATH, REGISTER_PATH, REVOKE_PATH,
    TOKEN_PATH,
};
use super::oauth_error::OAuthError;

/// Builds the routes of both documents.
///
/// Protected resource metadata is served at the well-known path followed by the MCP path and
/// at the root. Authorization server metadata is served at the well-known path followed by the
/// issuer's path and also at the root, where clients of the 2025-03-26 MCP revision look for
/// it whatever the issuer's path. Well-known paths under the MCP path get 404 here instead of
/// reaching the guarded endpoint, which would return 401.
pub(super) fn router(config: &AuthConfig) -> Router<Arc<AuthState>> {
    let resource = document(&resource_metadata(config));
    let server = document(&server_metadata(config));
    let mut router = Router::new();
    for path in paths(
        &config.resource.well_known_path(PRM_ROOT_PATH),
        PRM_ROOT_PATH,
    ) {
        let body = resource.clone();
        router = router.route(&path, get(move || serve(body.clone())));
    }
    for path in paths(
        &config.issuer.well_known_path(AS_METADATA_ROOT_PATH),
        AS_METADATA_ROOT_PATH,
    ) {
        let body = server.clone();
        router = router.route(&path, get(move || serve(body.clone())));
    }
    let resource_path = config.resource.path.trim_end_matches('/');
    if !resource_path.is_empty() {
        router = router.route(
            &format!("{resource_path}/.well-known/{{*rest}}"),
            get(not_found),
        );
    }
    router
}

fn paths(suffixed: &str, root: &str) -> Vec<String> {
    if suffixed == root {
        vec![root.to_owned()]
    } else {
        vec![suffixed.to_owned(), root.to_owned()]
    }
}

/// Returns protected resource metadata (RFC 9728, section 2).
fn resource_metadata(config: &AuthConfig) -> Value {
    json!({
        "resource": config.resource_url(),
        "authorization_servers": [config.issuer_url()],
        "scopes_supported": config.scopes,
        "bearer_methods_supported": ["header"],
    })
}

/// Returns authorization server metadata (RFC 8414, section 2).
fn server_metadata(config: &AuthConfig) -> Value {
    json!({
        "issuer": config.issuer_url(),
        "authorization_endpoint": config.endpoint_url(AUTHORIZE_PATH),
        "token_endpoint": config.endpoint_url(TOKEN_PATH),
        "registration_endpoint": config.endpoint_url(REGISTER_PATH),
        "revocation_endpoint": config.endpoint_url(REVOKE_PATH),
        "scopes_supported": config.scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    })
}

fn document(value: &Value) -> Bytes {
    Bytes::from(value.to_string())
}

async fn serve(body: Bytes) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

async fn not_found() -> OAuthError {
    OAuthError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no metadata here: protected resource metadata is at /.well-known/oauth-protected-resource followed by the MCP path",
    )
}
