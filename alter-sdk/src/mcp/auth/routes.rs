//! The router of every endpoint of the authorization server.

use std::sync::Arc;

use axum::Router;

use super::{AuthState, authorize, bridge, metadata};

/// Builds the router: one `.merge` per endpoint module, each of which owns its paths.
pub(super) fn router(state: Arc<AuthState>) -> Router {
    Router::new()
        .merge(metadata::router(&state.config))
        .merge(authorize::router())
        .merge(bridge::router())
        .with_state(state)
}
