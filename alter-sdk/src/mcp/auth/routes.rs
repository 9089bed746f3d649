//! The router of every endpoint of the authorization server.

use std::sync::Arc;

use axum::Router;

use super::guard::cors_layer;
use super::{AuthState, authorize, bridge, metadata, register, revoke, token};

/// Builds the router: one `.merge` per endpoint module, each of which owns its paths, and the
/// CORS policy over all of them but the browser pages.
pub(super) fn router(state: Arc<AuthState>) -> Router {
    Router::new()
        .merge(metadata::router(&state.config))
        .merge(register::router())
        .merge(token::router())
        .merge(revoke::router())
        .layer(cors_layer())
        // The browser pages stay same-origin: no CORS headers.
        .merge(authorize::router())
        .merge(bridge::router())
        .with_state(state)
}
