//! An OAuth 2.1 authorization server for MCP clients, and the bearer guard for the MCP
//! endpoint.
//!
//! MCP clients (Claude Code, Cursor, VS Code, the MCP Inspector) find the server through
//! protected resource metadata (RFC 9728) and authorization server metadata (RFC 8414). They
//! register with dynamic client registration (RFC 7591) and sign the user in through the
//! backend's sign-in sessions. The tokens they receive are opaque; the user's identity-provider
//! token stays on the server and reaches tools and handlers through the same identity
//! resolution as REST routes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;

use crate::vault::Vault;

mod authorize;
mod body;
mod bridge;
mod builder;
mod clock;
mod config;
mod guard;
mod memory;
mod metadata;
mod oauth_error;
mod page;
mod pending;
mod redirect_uri;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod refresh;
mod register;
mod revoke;
mod routes;
mod secret;
pub mod store;
mod token;

pub use builder::McpAuthBuilder;
pub use guard::{AuthorizedClient, Guarded, McpAuthLayer, Protected};
pub use memory::MemoryStore;
pub use redirect_uri::redirect_uri_matches;
pub use store::{AuthStore, StoreError, StoreLimits};

use config::AuthConfig;
use store::UnixSeconds;

/// How often the server drops expired records from its store, at most.
const SWEEP_INTERVAL_SECONDS: u64 = 60;

/// The authorization server of one MCP endpoint, built with
/// [`AlterAxum::mcp_auth`](crate::axum::AlterAxum::mcp_auth).
///
/// Cloning is cheap; every clone shares the configuration and the store.
#[derive(Clone)]
pub struct McpAuth {
    state: Arc<AuthState>,
}

impl McpAuth {
    fn from_state(state: AuthState) -> Self {
        Self {
            state: Arc::new(state),
        }
    }

    /// Returns the router of the metadata documents and the OAuth endpoints. Merge it into the
    /// application's router at the root.
    pub fn routes(&self) -> Router {
        routes::router(self.state.clone())
    }

    /// Puts the bearer guard and CORS in front of `service`, the MCP endpoint, for
    /// [`Router::nest_service`].
    ///
    /// A request without a valid access token for this resource gets 401 with a
    /// `WWW-Authenticate` challenge that points to the protected resource metadata. A valid one
    /// reaches `service` with the user's token in the request extensions, set with
    /// [`AlterAxum::set_user_token`](crate::axum::AlterAxum::set_user_token), and an
    /// [`AuthorizedClient`]. CORS preflights are answered without a token.
    pub fn protect<S>(&self, service: S) -> Protected<S> {
        Protected::new(&self.layer(), service)
    }

    /// Returns the bearer guard as a tower layer, for REST routes that accept the same access
    /// tokens: `Router::new().route(…).layer(auth.layer())`.
    ///
    /// It checks tokens exactly as [`McpAuth::protect`] does, but adds no CORS headers, so the
    /// application's own CORS policy applies to its routes.
    pub fn layer(&self) -> McpAuthLayer {
        McpAuthLayer::new(self.state.clone())
    }

    /// Returns the MCP endpoint URL, the protected resource, as it appears in the metadata.
    pub fn resource(&self) -> String {
        self.state.config.resource_url()
    }

    /// Returns the issuer, as it appears in the metadata.
    pub fn issuer(&self) -> String {
        self.state.config.issuer_url()
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> &Arc<AuthState> {
        &self.state
    }
}

impl fmt::Debug for McpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuth")
            .field("resource", &self.state.config.resource_url())
            .field("issuer", &self.state.config.issuer_url())
            .finish_non_exhaustive()
    }
}

/// What every endpoint shares: the configuration, the store and the vault.
pub(crate) struct AuthState {
    /// The validated configuration.
    pub(crate) config: AuthConfig,
    /// The store of clients, authorizations and tokens.
    pub(crate) store: Arc<dyn AuthStore>,
    /// The vault, with no user bound, for sign-in sessions and connect sessions.
    #[allow(
        dead_code,
        reason = "read by the sign-in flow; remove this once it is merged"
    )]
    pub(crate) vault: Vault,
    /// When the store was last swept.
    last_sweep: AtomicU64,
}

impl AuthState {
    fn new(config: AuthConfig, store: Arc<dyn AuthStore>, vault: Vault) -> Self {
        Self {
            config,
            store,
            vault,
            last_sweep: AtomicU64::new(0),
        }
    }

    /// Returns the current time in whole Unix seconds.
    pub(crate) fn now(&self) -> UnixSeconds {
        clock::unix_now()
    }

    /// Drops expired records from the store when the last sweep is more than a minute old.
    /// One caller among concurrent ones sweeps; a failed sweep is logged and retried a minute
    /// later.
    pub(crate) async fn sweep_if_due(&self) {
        let now = self.now();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_INTERVAL_SECONDS
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(error) = self.store.sweep(now).await {
            tracing::error!(target: "alter::mcp::auth", %error, "sweeping expired records failed");
        }
    }
}
