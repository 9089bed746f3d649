//! The bearer guard in front of the MCP endpoint and of REST routes.
//!
//! Every request needs `Authorization: Bearer <access token>`, not only the one that opens an
//! MCP session, because a session id proves nothing about who sends the request. An `OPTIONS`
//! request without a token gets 204 from the guard itself, so a CORS preflight never gets 401
//! and the guarded service never runs for a caller it has not authorized.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use serde_json::json;
use tower::{Layer, Service};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, Cors, CorsLayer, ExposeHeaders};

use crate::axum::AlterAxum;
use crate::protocol::bearer::bearer_token;

use super::AuthState;
use super::store::{SecretHash, TokenGrant, UnixSeconds};

/// The client and scopes of the access token a guarded request carried, in the request
/// extensions next to the user's token.
///
/// A handler reads it with `axum::Extension<AuthorizedClient>`; an rmcp tool reads it from the
/// HTTP request parts, `parts.extensions.get::<AuthorizedClient>()`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizedClient {
    /// The client the access token was issued to.
    pub client_id: String,
    /// The scopes granted to the access token.
    pub scopes: Vec<String>,
    /// When the access token expires, in Unix seconds.
    pub expires_at: UnixSeconds,
}

/// A tower [`Layer`] that puts the bearer guard in front of a service, made by
/// [`McpAuth::layer`](super::McpAuth::layer).
#[derive(Clone)]
pub struct McpAuthLayer {
    state: Arc<AuthState>,
}

impl McpAuthLayer {
    pub(super) fn new(state: Arc<AuthState>) -> Self {
        Self { state }
    }
}

impl std::fmt::Debug for McpAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpAuthLayer")
            .field("resource", &self.state.config.resource_url())
            .finish()
    }
}

impl<S> Layer<S> for McpAuthLayer {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            state: self.state.clone(),
            inner,
        }
    }
}

/// A service behind the bearer guard, made by [`McpAuthLayer`].
#[derive(Clone)]
pub struct Guarded<S> {
    state: Arc<AuthState>,
    inner: S,
}

impl<S> std::fmt::Debug for Guarded<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("resource", &self.state.config.resource_url())
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for Guarded<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service polled ready is the one in `self`; keep it for this call and leave a
        // fresh clone for the next, as tower requires.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Box::pin(async move {
            if request.method() == Method::OPTIONS
                && !request.headers().contains_key(http::header::AUTHORIZATION)
            {
                return Ok(options_response());
            }
            let grant = match authorize(&state, request.headers()).await {
                Ok(grant) => grant,
                Err(rejection) => return Ok(rejection.into_response(&state)),
            };
            let session = header_text(request.headers(), &MCP_SESSION_ID);
            if let Some(session) = &session
                && !state.sessions.allows(session, &grant.family)
            {
                tracing::warn!(
                    target: "alter::mcp::auth",
                    client_id = grant.client_id,
                    "rejected a request on an MCP session that another authorization opened"
                );
                return Ok(session_not_found());
            }
            let family = grant.family.clone();
            let deleting = request.method() == Method::DELETE;
            request.extensions_mut().insert(AuthorizedClient {
                client_id: grant.client_id,
                scopes: grant.scopes,
                expires_at: grant.expires_at,
            });
            AlterAxum::set_user_token(&mut request, grant.user_token);

            let response = inner.call(request).await?.into_response();
            match session {
                Some(session) if deleting && response.status().is_success() => {
                    state.sessions.forget(&session);
                }
                Some(_) => {}
                None => {
                    if let Some(opened) = header_text(response.headers(), &MCP_SESSION_ID) {
                        state.sessions.bind(&opened, family);
                    }
                }
            }
            Ok(response)
        })
    }
}

/// A service behind the bearer guard and CORS, made by [`McpAuth::protect`](super::McpAuth::protect).
#[derive(Clone)]
pub struct Protected<S> {
    inner: Cors<Guarded<S>>,
}

impl<S> Protected<S> {
    pub(super) fn new(layer: &McpAuthLayer, inner: S) -> Self {
        Self {
            inner: cors_layer().layer(layer.layer(inner)),
        }
    }
}

impl<S> std::fmt::Debug for Protected<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protected").finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for Protected<S>
where
    Guarded<S>: Service<Request<B>, Response = Response>,
    <Guarded<S> as Service<Request<B>>>::Future: Send + 'static,
{
    type Response = Response;
    type Error = <Guarded<S> as Service<Request<B>>>::Error;
    type Future = <Cors<Guarded<S>> as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.inner.call(request)
    }
}

/// The header that carries an MCP session id, in requests and in the `initialize` response.
const MCP_SESSION_ID: http::HeaderName = http::HeaderName::from_static("mcp-session-id");

/// Returns the value of `name` in `headers` as text, when it is present and visible ASCII.
fn header_text(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Builds the response to a request on a session that another authorization opened: 404, as
/// for an unknown session, after which an MCP client opens a new session.
fn session_not_found() -> Response {
    (StatusCode::NOT_FOUND, "session not found").into_response()
}

/// The methods listed to an `OPTIONS` request without a token: those of an rmcp endpoint with
/// sessions. The guard does not ask the guarded service, so a REST route or a stateless rmcp
/// endpoint behind it may accept fewer.
const ALLOWED_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// Builds the guard's own response to an `OPTIONS` request without a token.
fn options_response() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(
            http::header::ALLOW,
            HeaderValue::from_static(ALLOWED_METHODS),
        )],
    )
        .into_response()
}

/// Builds the CORS policy of every endpoint. It allows any origin, because no endpoint reads
/// cookies, and the request headers the browser announces. It exposes the response headers an
/// MCP client reads.
pub(crate) fn cors_layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::list([
            Method::GET,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ]))
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(ExposeHeaders::list([
            WWW_AUTHENTICATE,
            MCP_SESSION_ID,
            http::HeaderName::from_static("mcp-protocol-version"),
        ]))
        .max_age(std::time::Duration::from_secs(24 * 60 * 60))
}

/// The reason the guard rejected a request.
enum Rejection {
    /// No `Authorization` header.
    Missing,
    /// A malformed header, or a token that is unknown, expired, revoked or bound to another
    /// resource.
    Invalid(&'static str),
    /// The store could not be reached.
    Unavailable,
}

impl Rejection {
    fn into_response(self, state: &AuthState) -> Response {
        let config = &state.config;
        let mut challenge = String::from("Bearer ");
        let description = match &self {
            Self::Missing => "the request has no bearer token: authorize with this server first",
            Self::Invalid(description) => {
                challenge.push_str(&format!(
                    "error=\"invalid_token\", error_description=\"{description}\", "
                ));
                description
            }
            Self::Unavailable => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({
                        "error": "temporarily_unavailable",
                        "error_description": "the server cannot reach its storage; try again later",
                    })),
                )
                    .into_response();
            }
        };
        challenge.push_str(&format!(
            "resource_metadata=\"{}\", scope=\"{}\"",
            config.resource_metadata_url(),
            config.scope_string()
        ));
        let code = match self {
            Self::Missing => "missing_bearer_token",
            _ => "invalid_token",
        };
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": code, "error_description": description})),
        )
            .into_response();
        // The URL and scopes are validated ASCII, and the descriptions are constants.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

async fn authorize(state: &AuthState, headers: &HeaderMap) -> Result<TokenGrant, Rejection> {
    let token = match bearer_token(headers) {
        Ok(Some(token)) => token,
        Ok(None) => return Err(Rejection::Missing),
        Err(_) => {
            return Err(Rejection::Invalid(
                "the Authorization header is not a valid bearer token",
            ));
        }
    };
    let grant = state
        .store
        .access_token(SecretHash::of(token.expose_secret()))
        .await
        .map_err(|error| {
            tracing::error!(target: "alter::mcp::auth", %error, "the guard could not look up an access token");
            Rejection::Unavailable
        })?;
    let Some(grant) = grant else {
        tracing::debug!(target: "alter::mcp::auth", "rejected an unknown, expired or revoked access token");
        return Err(Rejection::Invalid(
            "the access token is invalid, expired or revoked",
        ));
    };
    if grant.expires_at <= state.now() {
        return Err(Rejection::Invalid("the access token expired"));
    }
    if !state.config.resource_matches(&grant.resource) {
        tracing::debug!(target: "alter::mcp::auth", client_id = grant.client_id, "rejected an access token issued for another resource");
        return Err(Rejection::Invalid(
            "the access token was issued for another resource",
        ));
    }
    Ok(grant)
}
