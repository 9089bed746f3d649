//! An OAuth 2.1 authorization server for MCP clients, and the bearer guard for the MCP
//! endpoint.
//!
//! MCP clients (Claude Code, Cursor, VS Code, the MCP Inspector) find the server through
//! protected resource metadata (RFC 9728) and authorization server metadata (RFC 8414). They
//! register with dynamic client registration (RFC 7591) and sign the user in through the
//! backend's sign-in sessions. The tokens they receive are opaque. The user's identity-provider
//! token stays on the server and reaches tools and handlers through the same identity
//! resolution as REST routes.
//!
//! ```no_run
//! use alter::axum::AlterAxum;
//! use alter::rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
//! use alter::rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
//! use axum::Router;
//! # use alter::rmcp::ServerHandler;
//!
//! # async fn run<S: ServerHandler + Clone>(server: S) -> Result<(), Box<dyn std::error::Error>> {
//! let alter = AlterAxum::new(std::env::var("ALTER_API_KEY")?).build()?;
//! let auth = alter
//!     // The URL MCP clients connect to: the protected resource and the issuer.
//!     .mcp_auth("http://127.0.0.1:8000/mcp")
//!     .provider("github", ["repo"])
//!     .build()?;
//! let mcp = StreamableHttpService::new(
//!     move || Ok(server.clone()),
//!     LocalSessionManager::default().into(),
//!     StreamableHttpServerConfig::default(),
//! );
//! let app = Router::new()
//!     .merge(auth.routes())
//!     .nest_service("/mcp", auth.protect(mcp));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Tools written with [`#[alter::tool]`](crate::tool) then act for the user who signed in,
//! and REST routes behind `.route_layer(auth.layer())` accept the same access tokens.
//!
//! # URLs
//!
//! The MCP URL must be `https`, or `http` on `localhost`, `127.0.0.1` or `[::1]`, without a
//! query, fragment, user name or password. Scheme and host are lower-cased; the path is kept
//! as written, so give the exact URL clients are configured with. It is the resource and,
//! unless [`McpAuthBuilder::issuer`] sets another, the issuer. The endpoints live at the
//! root of the issuer's origin:
//!
//! | path | what it serves |
//! |---|---|
//! | `/.well-known/oauth-protected-resource` + MCP path, and without it | protected resource metadata: `resource`, `authorization_servers`, `scopes_supported`, `bearer_methods_supported` |
//! | `/.well-known/oauth-authorization-server` + issuer path, and without it | authorization server metadata, with `code_challenge_methods_supported: ["S256"]`, `token_endpoint_auth_methods_supported: ["none"]` and `authorization_response_iss_parameter_supported: true` |
//! | MCP path + `/.well-known/…` | 404, so that probes never reach the guard |
//! | `POST /register` | dynamic client registration, see below |
//! | `POST /token` | the authorization-code and refresh-token grants |
//! | `POST /revoke` | token revocation (RFC 7009) |
//!
//! `openid-configuration` is not served (404), because this server issues no ID tokens.
//! Metadata, registration, token and revocation responses carry CORS headers for any origin.
//!
//! # Registration
//!
//! Clients are public and authenticate with PKCE, so `token_endpoint_auth_method` must be
//! `none` (the default). `redirect_uris` contains 1 to 10 URIs of at most 2048 bytes each and
//! 4096 bytes together. Each uses `https`, `http` on `localhost`, `127.0.0.1` or `[::1]`, or a
//! native app's private-use scheme such as Cursor's
//! `cursor://anysphere.cursor-mcp/oauth/callback`, and has no fragment. Schemes that a browser
//! runs or loads itself (`javascript`, `data`, `file` and others) are rejected. Grant types
//! are `authorization_code` and optionally `refresh_token`, the response type is `code`, and
//! `application_type` may be `native` or `web`. The response is 201 with the registered
//! metadata, `client_id` and `client_id_issued_at`; bad input gets 400
//! `invalid_redirect_uri` or `invalid_client_metadata`. A redirect URI of a later request
//! matches a registered one as [`redirect_uri_matches`] describes: exactly, except for the
//! port of loopback URIs.
//!
//! # Tokens
//!
//! The token and revocation endpoints take `application/x-www-form-urlencoded` bodies only; a
//! JSON body gets 400 `invalid_request`. Every answer carries `Cache-Control: no-store` and
//! `Pragma: no-cache`, and every error is `{"error", "error_description"}`.
//!
//! - Authorization code: `code`, `redirect_uri`, `client_id` and `code_verifier` are
//!   required. The verifier is 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`, and its S256
//!   hash must equal the challenge of the authorization request. A code is single-use: a
//!   second exchange gets `invalid_grant` and revokes every token issued from the first.
//! - Refresh token: each refresh rotates the refresh token. A rotated token presented again
//!   within the grace window gets another pair and every pair stays valid, so a client that
//!   lost a response or refreshed from several tasks at once keeps a working token. After the
//!   window it gets `invalid_grant`, and every token of the same authorization is revoked.
//!   `scope` may narrow the new access token's scopes (`invalid_scope` otherwise).
//! - `resource` (RFC 8707) is optional; when sent, it must name the MCP URL, else
//!   `invalid_target`. A single trailing slash is ignored on either side, so
//!   `https://example.com/mcp/` names `https://example.com/mcp` and the other way round; a
//!   different path, host or port is another resource.
//! - A store that cannot be reached, or is full, gets 503 `temporarily_unavailable`.
//!
//! The scopes clients may request are set with [`McpAuthBuilder::scopes`], by default the
//! single scope `mcp`; they appear in both metadata documents and in the 401 challenge.
//!
//! Access tokens are `alter_at_` and refresh tokens `alter_rt_` followed by 43 random
//! characters. They are stored only as SHA-256 hashes.
//!
//! # Lifetimes
//!
//! | secret | default | setting |
//! |---|---|---|
//! | access token | 1 hour | [`McpAuthBuilder::access_token_lifetime`] |
//! | refresh token | 24 hours, counted again from each rotation | [`McpAuthBuilder::refresh_token_lifetime`] |
//! | authorization code | 5 minutes from `/authorize`, also the maximum | [`McpAuthBuilder::code_lifetime`] |
//! | refresh grace window | 30 seconds, at least 1 | [`McpAuthBuilder::refresh_grace`] |
//!
//! # The guard
//!
//! [`McpAuth::protect`] and [`McpAuth::layer`] check `Authorization: Bearer` on every request.
//! An `OPTIONS` request without the header gets 204 from the guard, and the guarded service
//! does not run:
//!
//! - no header: 401 with `WWW-Authenticate: Bearer resource_metadata="<metadata URL>",
//!   scope="<scopes>"`, which is how clients discover the server;
//! - a malformed header, or a token that is unknown, expired, revoked or issued for another
//!   resource: 401 with `error="invalid_token"` added to the challenge;
//! - a store that cannot be reached: 503;
//! - a valid token on an MCP session (`Mcp-Session-Id`) that a token of another authorization
//!   opened: 404, as for an unknown session. Refreshed tokens keep their authorization's
//!   sessions, and a client that signs in again opens a new session. Bindings live in the
//!   memory of the process whose guard saw the session open, so a session that rmcp's
//!   `session_store` restores in another process is not bound there.
//!
//! A valid token puts the user's identity-provider token into the request extensions with
//! [`AlterAxum::set_user_token`](crate::axum::AlterAxum::set_user_token), where
//! [`AlterContext`](crate::mcp::AlterContext), `#[alter::handler]` and the vault extractors
//! find it, and an [`AuthorizedClient`] with the client id and scopes. `protect` also answers
//! CORS preflights and exposes `WWW-Authenticate` and `Mcp-Session-Id` to browser clients.
//!
//! # State
//!
//! The server keeps clients, pending authorizations, codes and tokens in an [`AuthStore`],
//! by default a [`MemoryStore`] with the limits of [`StoreLimits`]. A single process needs
//! nothing more; replicas need a shared store, given with [`McpAuthBuilder::store`].
//! Expired records are swept at most once a minute, during registration and token
//! requests, and whenever the memory store reaches a limit. Logs go to the target
//! `alter::mcp::auth` and never contain a token, code or user token.
//!
//! `/register` and `/authorize` need no authentication, as MCP clients expect, so one caller
//! can fill the client limit or the limit on pending authorizations, after which those
//! endpoints return `temporarily_unavailable` to everyone until records expire. The server
//! does not limit request rates itself: in production, put a per-address rate limit in front
//! of both, in the reverse proxy or as a tower layer.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;

use crate::identity::UserToken;
use crate::vault::{ConnectSessionBuilder, Vault};

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
mod sessions;
pub mod store;
mod token;

pub use builder::McpAuthBuilder;
pub use guard::{AuthorizedClient, Guarded, McpAuthLayer, Protected};
pub use memory::MemoryStore;
pub use redirect_uri::redirect_uri_matches;
pub use store::{AuthStore, StoreError, StoreLimits};

use config::AuthConfig;
use sessions::SessionBindings;
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
    /// [`AuthorizedClient`]. CORS preflights get their response without a token.
    pub fn protect<S>(&self, service: S) -> Protected<S> {
        Protected::new(&self.layer(), service)
    }

    /// Returns the bearer guard as a tower layer, for REST routes that accept the same access
    /// tokens: `Router::new().route(…).route_layer(auth.layer())`.
    ///
    /// It checks tokens exactly as [`McpAuth::protect`] does, but adds no CORS headers, so the
    /// application's own CORS policy applies to its routes. Prefer `route_layer` to `layer`:
    /// axum applies `layer` to the router's fallback as well, so every unknown path of the
    /// merged application would return 401 instead of 404.
    pub fn layer(&self) -> McpAuthLayer {
        McpAuthLayer::new(self.state.clone())
    }

    /// Starts a connect session for `user` that offers the providers given to
    /// [`McpAuthBuilder::provider`], each with its scopes as required scopes.
    ///
    /// Send it with [`ConnectSessionBuilder::send`] and show its `connect_url` to the user, for
    /// example from a tool that finds the user has not connected a provider yet. More settings
    /// can be chained before sending.
    pub fn create_connect_session(&self, user: impl Into<UserToken>) -> ConnectSessionBuilder {
        let providers = &self.state.config.providers;
        let mut session = self
            .state
            .vault
            .create_connect_session()
            .user_token(user)
            .allowed_providers(providers.iter().map(|request| request.provider.clone()));
        for request in providers
            .iter()
            .filter(|request| !request.scopes.is_empty())
        {
            session = session.required_scopes(request.provider.clone(), request.scopes.clone());
        }
        session
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

/// The state every endpoint shares: the configuration, the store and the vault.
pub(crate) struct AuthState {
    /// The validated configuration.
    pub(crate) config: AuthConfig,
    /// The store of clients, authorizations and tokens.
    pub(crate) store: Arc<dyn AuthStore>,
    /// The vault, with no user bound, for sign-in sessions and connect sessions.
    pub(crate) vault: Vault,
    /// When the store was last swept.
    last_sweep: AtomicU64,
    /// The MCP sessions the guard saw opened, and the token family of each.
    pub(crate) sessions: SessionBindings,
}

impl AuthState {
    fn new(config: AuthConfig, store: Arc<dyn AuthStore>, vault: Vault) -> Self {
        Self {
            config,
            store,
            vault,
            last_sweep: AtomicU64::new(0),
            sessions: SessionBindings::default(),
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
