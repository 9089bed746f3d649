//! The router of every endpoint of the authorization server.

use std::sync::Arc;

use axum::Router;

use super::guard::cors_layer;
use super::{AuthState, metadata, register, revoke, token};

/// Builds the router: one `.merge` per endpoint module, each of which owns its paths, and the
/// CORS policy over all of them.
pub(super) fn router(state: Arc<AuthState>) -> Router {
    Router::new()
        .merge(metadata::router(&state.config))
        .merge(register::router())
        .merge(token::router())
        .merge(revoke::router())
        .layer(cors_layer())
        .with_state(state)
}
