//! The sign-in bridge: the page `/authorize` sends a browser to while the user signs in, and
//! the JSON status endpoint its script polls.
//!
//! ```text
//! GET /auth-bridge?pending=H        the page; 302 to the client with the code once signed in
//! GET /auth-bridge/poll?pending=H   {"status": "pending" | "completed" | "error" | "expired"}
//! ```
//!
//! The page names the client, as it registered itself, and the scheme, host and port its
//! redirect URI leads to, so the user can tell an authorization they did not start. It works
//! without scripts too: it reloads itself, and each load polls the sign-in once. It gives up
//! when the authorization expires, which is when its code would expire.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use url::{Url, form_urlencoded};

use super::AuthState;
use super::oauth_error::no_store;
use super::page::{self, BridgePage};
use super::pending::{Progress, advance, found};
use super::secret::SECRET_LENGTH;

/// The path of the bridge page, at the root of the issuer's origin.
pub(super) const BRIDGE_PATH: &str = "/auth-bridge";
/// The path of the status endpoint the page polls.
const BRIDGE_POLL_PATH: &str = "/auth-bridge/poll";

/// Builds the routes of the bridge page and its status endpoint.
pub(super) fn router() -> Router<Arc<AuthState>> {
    Router::new()
        .route(BRIDGE_PATH, get(show))
        .route(BRIDGE_POLL_PATH, get(poll))
}

/// Returns the `pending` parameter of `query` when it has the shape of a handle: 43 characters
/// of base64url. Anything else cannot name a pending authorization and is never echoed.
fn pending_handle(query: Option<&str>) -> Option<String> {
    let query = query?;
    let handle = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "pending")
        .map(|(_, value)| value.into_owned())?;
    let well_formed = handle.len() == SECRET_LENGTH
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some(handle)
}

const EXPIRED_TEXT: &str =
    "This sign-in link is unknown or expired. Start again from your application.";

/// `GET /auth-bridge?pending=…`.
async fn show(State(state): State<Arc<AuthState>>, RawQuery(query): RawQuery) -> Response {
    let Some(handle) = pending_handle(query.as_deref()) else {
        return unknown_page();
    };
    match advance(&state, &handle).await {
        Ok(Progress::Completed(location)) => found(&location),
        Ok(Progress::Pending(pending)) => {
            let remaining_seconds = pending.expires_at.saturating_sub(state.now());
            let client_name = client_name(&state, &pending.client_id).await;
            page::bridge(&BridgePage {
                client_name: &client_name,
                return_to: &return_target(&pending.redirect_uri),
                sign_in_url: &pending.sign_in_url,
                reload_url: &format!("{BRIDGE_PATH}?pending={handle}"),
                poll_url: &format!("{BRIDGE_POLL_PATH}?pending={handle}"),
                remaining_ms: remaining_seconds.saturating_mul(1_000),
            })
        }
        Ok(Progress::Failed {
            message,
            redirect: location,
        }) => page::message(
            StatusCode::FORBIDDEN,
            "Sign-in failed",
            &format!("Sign-in failed: {message}"),
            Some(("Return to the application", &location)),
        ),
        Ok(Progress::Expired) => page::message(
            StatusCode::GONE,
            "Sign-in expired",
            "This sign-in expired before you signed in. Start again from your application.",
            None,
        ),
        Ok(Progress::Unknown) => unknown_page(),
        Err(error) => {
            tracing::error!(target: "alter::mcp::auth", %error, "the authorization store failed");
            page::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The authorization server cannot reach its store. Reload this page in a moment.",
                None,
            )
        }
    }
}

/// The name shown for a client that registered none.
const UNNAMED_CLIENT: &str = "An application";

/// Returns the name the client registered, or [`UNNAMED_CLIENT`].
async fn client_name(state: &AuthState, client_id: &str) -> String {
    let registered = match state.store.client(client_id).await {
        Ok(client) => client.and_then(|client| {
            let name = client.metadata.get("client_name")?.as_str()?;
            Some(name.to_owned())
        }),
        Err(error) => {
            tracing::warn!(
                target: "alter::mcp::auth",
                %error,
                client_id,
                "reading the client for the bridge page failed; showing it without its name"
            );
            None
        }
    };
    registered.unwrap_or_else(|| UNNAMED_CLIENT.to_owned())
}

/// Returns where the browser goes after the sign-in: the scheme, host and port of
/// `redirect_uri`, without its path and query.
fn return_target(redirect_uri: &str) -> String {
    let Ok(url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        (None, _) => format!("{}:", url.scheme()),
    }
}

/// `GET /auth-bridge/poll?pending=…`.
async fn poll(State(state): State<Arc<AuthState>>, RawQuery(query): RawQuery) -> Response {
    let Some(handle) = pending_handle(query.as_deref()) else {
        return status_json(
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "error_message": EXPIRED_TEXT}),
        );
    };
    let (status, body) = match advance(&state, &handle).await {
        Ok(Progress::Pending(_)) => (StatusCode::OK, json!({"status": "pending"})),
        Ok(Progress::Completed(location)) => (
            StatusCode::OK,
            json!({"status": "completed", "redirect_url": location}),
        ),
        Ok(Progress::Failed { message, .. }) => (
            StatusCode::OK,
            json!({"status": "error", "error_message": message}),
        ),
        Ok(Progress::Expired) => (StatusCode::OK, json!({"status": "expired"})),
        Ok(Progress::Unknown) => (
            StatusCode::BAD_REQUEST,
            json!({"status": "error", "error_message": EXPIRED_TEXT}),
        ),
        Err(error) => {
            // The page keeps polling: a store that is down for a moment does not end the
            // sign-in.
            tracing::error!(target: "alter::mcp::auth", %error, "the authorization store failed");
            (StatusCode::OK, json!({"status": "pending"}))
        }
    };
    status_json(status, body)
}

fn status_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    no_store(&mut response);
    response
}

fn unknown_page() -> Response {
    page::message(
        StatusCode::BAD_REQUEST,
        "Sign-in link not valid",
        EXPIRED_TEXT,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_target_drops_path_and_query() {
        for (redirect_uri, expected) in [
            (
                "http://127.0.0.1:53123/callback?x=1",
                "http://127.0.0.1:53123",
            ),
            ("https://app.example/cb", "https://app.example"),
            ("https://app.example:8443/cb", "https://app.example:8443"),
            (
                "cursor://anysphere.cursor-mcp/oauth/callback",
                "cursor://anysphere.cursor-mcp",
            ),
            ("com.example.app:/oauth2redirect", "com.example.app:"),
        ] {
            assert_eq!(return_target(redirect_uri), expected, "{redirect_uri}");
        }
    }
}
