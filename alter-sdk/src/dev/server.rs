//! The state every route shares, and the router that serves them.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::agents::Agents;
use super::approval::Approvals;
use super::connect::ConnectSessions;
use super::demo::DemoProvider;
use super::errors::ApiError;
use super::faults::Faults;
use super::idp::Idp;
use super::keys::KeyRegistry;
use super::provider::ProviderConfig;
use super::rate_limit::RateLimiter;
use super::scope_report::ScopeReports;
use super::signin::SignInSessions;
use super::store::Store;
use super::verify::NonceCache;
use super::wire::{self, code};
use super::{
    approval, audit, connect, demo, faults, idp, proxy, rate_limit, scope_report, signin, token,
    verify,
};

/// All DevVault state, shared by every route.
#[derive(Debug)]
pub(super) struct DevState {
    /// `http://host:port`, without a trailing slash.
    pub(super) base_url: String,
    pub(super) keys: KeyRegistry,
    pub(super) agents: Agents,
    pub(super) nonces: NonceCache,
    pub(super) idp: Idp,
    pub(super) store: Store,
    pub(super) connect: ConnectSessions,
    pub(super) sign_in: SignInSessions,
    pub(super) faults: Faults,
    pub(super) approvals: Approvals,
    pub(super) scope_reports: ScopeReports,
    pub(super) rate_limiter: RateLimiter,
    /// The demo provider first, then the configured ones, in the order the connect page lists
    /// them.
    pub(super) providers: Vec<ProviderConfig>,
    pub(super) demo: DemoProvider,
    /// Calls provider token and user-info endpoints.
    pub(super) http: reqwest::Client,
}

impl DevState {
    /// Returns the configuration of provider `id`.
    pub(super) fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|provider| provider.id == id)
    }

    /// Returns the comma-separated ids of all providers, for error messages.
    pub(super) fn provider_ids(&self) -> String {
        self.providers
            .iter()
            .map(|provider| provider.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Returns the redirect URI registered with every provider.
    pub(super) fn callback_url(&self) -> String {
        format!("{}{}", self.base_url, connect::CALLBACK_PATH)
    }

    /// Verifies an end user's token and returns the user name.
    pub(super) fn resolve_user(&self, user_token: &str) -> Result<String, ApiError> {
        self.idp
            .verify(user_token)
            .map_err(|error| ApiError::user_token_rejected(error.to_string()))
    }
}

/// Builds the router with every route of the backend, the connect pages and the demo provider.
pub(super) fn router(state: Arc<DevState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(wire::TOKEN_PATH, post(token::retrieve))
        .route(wire::AUDIT_PATH, post(audit::record))
        .route(wire::CONNECT_SESSION_PATH, post(connect::api::create))
        .route(wire::CONNECT_POLL_PATH, post(connect::api::poll))
        .route(wire::PROXY_PATH, post(proxy::proxy))
        .route(
            "/sdk/grants/{id}/report-scope-mismatch",
            post(scope_report::report),
        )
        .route("/sdk/approvals/{id}", get(approval::status))
        .route("/sdk/approvals/{id}/result", get(approval::result))
        .route(
            "/approvals/{id}",
            get(approval::page).post(approval::decide),
        )
        .route(wire::AUTH_SESSION_PATH, post(signin::api::create))
        .route(wire::AUTH_POLL_PATH, post(signin::api::poll))
        .route(wire::AUTH_VERIFY_PATH, post(signin::api::verify_token))
        .route("/dev/users/{name}/token", post(idp::mint_token))
        .route(connect::CALLBACK_PATH, get(connect::pages::callback))
        .route("/connect/{page}", get(connect::pages::show))
        .route("/connect/{page}/authorize", get(connect::pages::authorize))
        .route("/connect/{page}/cancel", post(connect::pages::cancel))
        .route(
            "/signin/{page}",
            get(signin::pages::show).post(signin::pages::submit),
        )
        .route("/signin/{page}/cancel", post(signin::pages::cancel))
        .route(
            demo::AUTHORIZE_PATH,
            get(demo::oauth::authorize).post(demo::oauth::decide),
        )
        .route(demo::TOKEN_PATH, post(demo::oauth::token))
        .route("/demo/api/me", get(demo::api::me))
        .route(
            "/demo/api/messages",
            get(demo::api::list_messages).post(demo::api::post_message),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::enforce,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            verify::require_signature,
        ))
        .with_state(state)
}

async fn index() -> &'static str {
    "DevVault is running: a local Alter-compatible backend. Mint a user token with \
     POST /dev/users/{name}/token.\n"
}

async fn not_found(request: Request) -> ApiError {
    ApiError::route_not_found(request.uri().path())
}

async fn method_not_allowed(request: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}
