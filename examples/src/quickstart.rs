//! The quickstart app: REST routes and an MCP endpoint that act for the signed-in user.
//!
//! - `POST /chat` calls the demo provider's API with the user's credential, fetched and injected
//!   by the vault, and returns the provider's JSON.
//! - `GET /connect` creates a connect session for the demo provider and returns its
//!   `connect_url` and `session_token`; the user opens the URL to authorize the provider.
//! - `/mcp` serves the tools of [`crate::mcp_server`] to MCP clients, behind an OAuth 2.1
//!   authorization server (`/authorize`, `/token`, `/register` and the metadata documents)
//!   that signs users in through the vault's sign-in sessions.
//!
//! The REST routes take the user from `Authorization: Bearer <token>` through
//! `#[alter::handler]`; the MCP endpoint takes it from the access token the authorization
//! server issued. Both act for the same user through the same vault.
//!
//! The authorization server keeps its state in memory, or in Redis when `REDIS_URL` is set
//! (see [`redis_store_from_env`]), so that several replicas behind a load balancer share it.

use alter::axum::AlterAxum;
use alter::mcp::auth::redis::{EncryptionKey, RedisStore};
use alter::mcp::auth::{McpAuth, McpAuthBuilder};
use alter::{Method, Vault};
use axum::extract::{FromRef, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::mcp_server::{self, DemoTools};

/// The provider the quickstart calls.
pub const PROVIDER: &str = "demo";

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// The environment variable with the URL of the Redis that replicas share, e.g.
/// `redis://127.0.0.1:6379`.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The router state: the vault handle and where the provider's API lives.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The application's vault.
    pub alter: AlterAxum,
    /// Base URL of the demo provider's JSON API, e.g. `http://127.0.0.1:8787/demo/api`.
    pub demo_api_url: String,
}

impl FromRef<AppState> for AlterAxum {
    fn from_ref(state: &AppState) -> Self {
        state.alter.clone()
    }
}

/// Builds the authorization server for the MCP endpoint at `mcp_url`, e.g.
/// `http://127.0.0.1:8000/mcp`.
///
/// # Errors
///
/// Returns [`alter::Error::Config`] when `mcp_url` is not an `https` URL, or a plain `http`
/// URL on a loopback host.
pub fn mcp_auth(alter: &AlterAxum, mcp_url: &str) -> Result<McpAuth, alter::Error> {
    mcp_auth_builder(alter, mcp_url).build()
}

/// Configures the authorization server as [`mcp_auth`] builds it, for callers that change the
/// store or the lifetimes before building.
pub fn mcp_auth_builder(alter: &AlterAxum, mcp_url: &str) -> McpAuthBuilder {
    alter
        .mcp_auth(mcp_url)
        .provider(PROVIDER, ["messages.read"])
}

/// Connects to the Redis at `REDIS_URL` with the encryption key in `ALTER_MCP_AUTH_KEY`, or
/// returns `None` when `REDIS_URL` is unset or empty, for the in-memory store.
///
/// # Errors
///
/// Returns [`alter::Error::Config`] when `ALTER_MCP_AUTH_KEY` is missing or not 32 bytes of
/// base64, or the URL is invalid, and the connection errors of
/// [`RedisStore::connect`] when Redis cannot be reached.
pub async fn redis_store_from_env() -> Result<Option<RedisStore>, alter::Error> {
    let url = match std::env::var(REDIS_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => return Ok(None),
    };
    let key = EncryptionKey::from_env()?;
    RedisStore::connect(url.trim(), key).await.map(Some)
}

/// Builds the whole app: the REST routes, the authorization server's routes, and the tools at
/// [`MCP_PATH`] behind the authorization server's guard.
pub fn app(state: AppState, auth: &McpAuth) -> Router {
    let tools = DemoTools::new(state.alter.vault().clone(), &state.demo_api_url);
    router(state)
        .merge(auth.routes())
        .nest_service(MCP_PATH, auth.protect(mcp_server::service(tools)))
}

/// Builds the REST routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/chat", post(chat))
        .route("/connect", get(connect))
        .with_state(state)
}

/// Calls the demo API as the signed-in user and returns its response.
#[alter::handler]
async fn chat(vault: Vault, State(state): State<AppState>) -> Result<Json<Value>, alter::Error> {
    let url = format!("{}/me", state.demo_api_url.trim_end_matches('/'));
    let response = vault
        .request(Method::GET, url)
        .provider(PROVIDER)
        .reason("answer a chat message")
        .send()
        .await?;
    Ok(Json(response.json()?))
}

/// Starts a connect session for the demo provider.
#[alter::handler]
async fn connect(vault: Vault) -> Result<Json<Value>, alter::Error> {
    let session = vault
        .create_connect_session()
        .allowed_providers([PROVIDER])
        .send()
        .await?;
    Ok(Json(json!({
        "connect_url": session.connect_url,
        "session_token": session.session_token,
        "expires_at": session.expires_at,
    })))
}
