//! The floor: the quickstart's `POST /chat` without a vault. The handler calls the demo API
//! with one fixed access token and returns its JSON, so the difference to the quickstart is
//! the credential lookup, the audit row and the SDK's own work.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

#[derive(Clone)]
struct Floor {
    client: reqwest::Client,
    me_url: String,
    authorization: HeaderValue,
}

/// Builds the floor router for the demo API at `demo_api_url` (e.g.
/// `http://127.0.0.1:8787/demo/api`) and the provider's `access_token`.
///
/// # Errors
///
/// Returns a message when the token is not a valid header value or the client cannot be built.
pub fn router(demo_api_url: &str, access_token: &str) -> Result<Router, String> {
    let mut authorization = HeaderValue::try_from(format!("Bearer {access_token}"))
        .map_err(|_| "the access token is not a valid header value".to_owned())?;
    authorization.set_sensitive(true);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("failed to build the HTTP client: {e}"))?;
    let floor = Floor {
        client,
        me_url: format!("{}/me", demo_api_url.trim_end_matches('/')),
        authorization,
    };
    Ok(Router::new().route("/chat", post(chat)).with_state(floor))
}

async fn chat(State(floor): State<Floor>) -> Result<Json<Value>, (StatusCode, String)> {
    let bad_gateway = |e: reqwest::Error| (StatusCode::BAD_GATEWAY, e.without_url().to_string());
    let response = floor
        .client
        .get(&floor.me_url)
        .header(AUTHORIZATION, floor.authorization.clone())
        .send()
        .await
        .map_err(bad_gateway)?;
    let status = response.status();
    if !status.is_success() {
        return Err((
            StatusCode::BAD_GATEWAY,
            format!("the demo API answered {status}"),
        ));
    }
    Ok(Json(response.json().await.map_err(bad_gateway)?))
}
