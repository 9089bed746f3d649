//! The quickstart app: two routes that act for the signed-in user.
//!
//! - `POST /chat` calls the demo provider's API with the user's credential, fetched and injected
//!   by the vault, and returns the provider's JSON.
//! - `GET /connect` creates a connect session for the demo provider and returns its
//!   `connect_url` and `session_token`; the user opens the URL to authorize the provider.
//!
//! Both take the user from `Authorization: Bearer <token>` through `#[alter::handler]`.

use alter::axum::AlterAxum;
use alter::{Method, Vault};
use axum::extract::{FromRef, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// The provider the quickstart calls.
pub const PROVIDER: &str = "demo";

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

/// Builds the quickstart router.
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
