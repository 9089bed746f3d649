//! `GET /authorize` (and the same parameters as a `POST` form): the authorization request of
//! OAuth 2.1 with PKCE S256.
//!
//! The client and its redirect URI are checked first. Until both are known to be registered,
//! every error is an HTML page and never a redirect, so the endpoint cannot send a browser to
//! an address an attacker chose. After that, errors return to the client's redirect URI as
//! `?error=…&state=…&iss=…`.
//!
//! A valid request starts a backend sign-in session and stores a pending authorization under
//! the hash of a fresh handle. The session is polled once at once: when it is already
//! completed (a backend that approves sign-ins without a page, such as DevVault under
//! auto-approve), the client receives its code straight away, so headless clients need no
//! browser. Otherwise the browser goes to the bridge page, which waits for the sign-in.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use url::form_urlencoded;

use super::AuthState;
use super::bridge::BRIDGE_PATH;
use super::config::AUTHORIZE_PATH;
use super::page;
use super::pending::{Progress, advance, found, redirect_with};
use super::redirect_uri::redirect_uri_matches;
use super::secret::{is_valid_s256_challenge, new_pending_handle};
use super::store::{PendingAuthorization, SecretHash, SignInOutcome, StoreError};
use crate::error::Error;
use crate::identity::UserToken;

/// The maximum length of one parameter value. Real clients send a few hundred bytes at most;
/// a larger value is rejected before anything is stored or echoed.
const MAX_PARAMETER_LENGTH: usize = 2_048;
/// The maximum length of the whole query or form body.
const MAX_REQUEST_LENGTH: usize = 16 * 1024;

/// Builds the routes of `/authorize`.
pub(super) fn router() -> Router<Arc<AuthState>> {
    Router::new().route(
        AUTHORIZE_PATH,
        get(authorize_query)
            .post(authorize_form)
            .layer(DefaultBodyLimit::max(MAX_REQUEST_LENGTH)),
    )
}

/// `GET /authorize?…`.
async fn authorize_query(
    State(state): State<Arc<AuthState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    authorize(&state, query.as_bytes()).await
}

/// `POST /authorize` with an `application/x-www-form-urlencoded` body.
async fn authorize_form(
    State(state): State<Arc<AuthState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the authorization request as a query or an application/x-www-form-urlencoded form",
        );
    }
    match body {
        Ok(body) => authorize(&state, &body).await,
        Err(_) => error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the authorization request is too large",
        ),
    }
}

/// A request whose client and redirect URI are verified, so errors may be redirected.
struct VerifiedRedirect<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: String,
}

impl VerifiedRedirect<'_> {
    /// Returns the client's redirect URI with `error`, `error_description`, `state` and `iss`.
    fn error(&self, code: &str, description: &str) -> Response {
        let mut parameters = vec![("error", code), ("error_description", description)];
        if let Some(client_state) = self.state {
            parameters.push(("state", client_state));
        }
        parameters.push(("iss", &self.issuer));
        found(&redirect_with(self.redirect_uri, &parameters))
    }
}

async fn authorize(state: &AuthState, raw: &[u8]) -> Response {
    if raw.len() > MAX_REQUEST_LENGTH {
        return error_page(
            StatusCode::BAD_REQUEST,
            "the authorization request is too large",
        );
    }
    let parameters = match Parameters::parse(raw) {
        Ok(parameters) => parameters,
        Err(problem) => return error_page(StatusCode::BAD_REQUEST, &problem),
    };
    state.sweep_if_due().await;

    let Some(client_id) = parameters.get("client_id") else {
        return error_page(StatusCode::BAD_REQUEST, "the request has no client_id");
    };
    let client = match state.store.client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            tracing::debug!(target: "alter::mcp::auth", client_id, "authorization for an unknown client");
            return error_page(
                StatusCode::BAD_REQUEST,
                "the client is not registered with this server; register it again",
            );
        }
        Err(error) => return store_failure_page(&error),
    };
    let Some(redirect_uri) = parameters.get("redirect_uri") else {
        return error_page(StatusCode::BAD_REQUEST, "the request has no redirect_uri");
    };
    if !redirect_uri_is_registered(&client.redirect_uris, redirect_uri) {
        tracing::debug!(
            target: "alter::mcp::auth",
            client_id,
            "authorization with an unregistered redirect URI"
        );
        return error_page(
            StatusCode::BAD_REQUEST,
            "the redirect_uri is not registered for this client",
        );
    }
    let redirect = VerifiedRedirect {
        redirect_uri,
        state: parameters.get("state"),
        issuer: state.config.issuer_url(),
    };

    let request = match AuthorizationRequest::check(state, &parameters) {
        Ok(request) => request,
        Err((code, description)) => {
            tracing::debug!(target: "alter::mcp::auth", client_id, code, description, "invalid authorization request");
            return redirect.error(code, description);
        }
    };
    start(state, client_id, &redirect, request).await
}

/// The checked parameters of an authorization request.
struct AuthorizationRequest {
    code_challenge: String,
    scopes: Vec<String>,
    resource: String,
}

impl AuthorizationRequest {
    /// Checks everything but the client and the redirect URI, returning the OAuth error code
    /// and description of the first problem.
    fn check(
        state: &AuthState,
        parameters: &Parameters,
    ) -> Result<Self, (&'static str, &'static str)> {
        match parameters.get("response_type") {
            Some("code") => {}
            None => return Err(("invalid_request", "response_type is missing; use code")),
            Some(_) => {
                return Err((
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        let code_challenge = parameters.get("code_challenge").ok_or((
            "invalid_request",
            "code_challenge is missing; PKCE with S256 is required",
        ))?;
        match parameters.get("code_challenge_method") {
            Some("S256") => {}
            _ => {
                return Err((
                    "invalid_request",
                    "code_challenge_method must be S256; plain is not supported",
                ));
            }
        }
        if !is_valid_s256_challenge(code_challenge) {
            return Err((
                "invalid_request",
                "code_challenge must be the 43-character base64url SHA-256 of the verifier",
            ));
        }
        let scopes = match parameters.get("scope") {
            None => state.config.scopes.clone(),
            Some(requested) => {
                let scopes: Vec<String> = requested
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if scopes.is_empty() {
                    state.config.scopes.clone()
                } else if scopes
                    .iter()
                    .all(|scope| state.config.scopes.contains(scope))
                {
                    scopes
                } else {
                    return Err((
                        "invalid_scope",
                        "the request names a scope this server does not offer",
                    ));
                }
            }
        };
        let resource = state.config.resource_url();
        if let Some(requested) = parameters.get("resource")
            && !state.config.resource_matches(requested)
        {
            return Err((
                "invalid_target",
                "the resource is not the MCP endpoint this server protects",
            ));
        }
        Ok(Self {
            code_challenge: code_challenge.to_owned(),
            scopes,
            resource,
        })
    }
}

/// Starts the sign-in and redirects to the client with the code, to the bridge page, or to
/// the client with an error.
async fn start(
    state: &AuthState,
    client_id: &str,
    redirect: &VerifiedRedirect<'_>,
    request: AuthorizationRequest,
) -> Response {
    let session = match state.vault.create_auth_session().await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(target: "alter::mcp::auth", client_id, %error, "creating a sign-in session failed");
            let code = if is_temporary(&error) {
                "temporarily_unavailable"
            } else {
                "server_error"
            };
            return redirect.error(code, "the sign-in could not be started; try again");
        }
    };
    if !is_web_url(&session.auth_url) {
        tracing::error!(target: "alter::mcp::auth", client_id, "the backend returned a sign-in URL that is not http or https");
        return redirect.error("server_error", "the sign-in could not be started");
    }

    let now = state.now();
    let handle = new_pending_handle();
    let pending = PendingAuthorization {
        client_id: client_id.to_owned(),
        redirect_uri: redirect.redirect_uri.to_owned(),
        state: redirect.state.map(str::to_owned),
        code_challenge: request.code_challenge,
        resource: request.resource,
        scopes: request.scopes,
        sign_in_session: UserToken::from(session.session_token),
        sign_in_url: session.auth_url,
        created_at: now,
        expires_at: now.saturating_add(state.config.lifetimes.code.as_secs()),
        outcome: SignInOutcome::Pending,
    };
    if let Err(error) = state
        .store
        .insert_pending(SecretHash::of(&handle), pending)
        .await
    {
        tracing::error!(target: "alter::mcp::auth", client_id, %error, "storing a pending authorization failed");
        return redirect.error(
            "temporarily_unavailable",
            "the server is busy; try again later",
        );
    }
    tracing::debug!(target: "alter::mcp::auth", client_id, "started a sign-in");

    match advance(state, &handle).await {
        Ok(Progress::Completed(location)) => found(&location),
        Ok(Progress::Failed {
            redirect: location, ..
        }) => found(&location),
        Ok(Progress::Expired | Progress::Unknown) => redirect.error(
            "server_error",
            "the sign-in session ended at once; try again",
        ),
        Ok(Progress::Pending(_)) => found(&bridge_url(state, &handle)),
        Err(error) => {
            tracing::error!(target: "alter::mcp::auth", client_id, %error, "polling a new authorization failed");
            redirect.error(
                "temporarily_unavailable",
                "the server is busy; try again later",
            )
        }
    }
}

/// Returns the URL of the bridge page of the pending authorization `handle`.
pub(super) fn bridge_url(state: &AuthState, handle: &str) -> String {
    format!(
        "{}{BRIDGE_PATH}?pending={handle}",
        state.config.issuer.origin
    )
}

/// The parameters of a request; each may appear once.
#[derive(Debug)]
struct Parameters(HashMap<String, String>);

impl Parameters {
    fn parse(raw: &[u8]) -> Result<Self, String> {
        let mut parameters = HashMap::new();
        for (name, value) in form_urlencoded::parse(raw) {
            if value.len() > MAX_PARAMETER_LENGTH || name.len() > MAX_PARAMETER_LENGTH {
                return Err(format!(
                    "a parameter of the authorization request is longer than {MAX_PARAMETER_LENGTH} bytes"
                ));
            }
            if value.is_empty() {
                continue;
            }
            if parameters
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(format!(
                    "the parameter {} appears more than once",
                    page_safe_name(&name)
                ));
            }
        }
        Ok(Self(parameters))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Returns a parameter name for an error message: known names as they are, anything else as
/// "a parameter", so the page never repeats attacker-chosen text.
fn page_safe_name(name: &str) -> &'static str {
    const KNOWN: [&str; 8] = [
        "response_type",
        "client_id",
        "redirect_uri",
        "code_challenge",
        "code_challenge_method",
        "state",
        "scope",
        "resource",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == name)
        .unwrap_or("of this name")
}

/// Checks `requested` against each registered redirect URI.
fn redirect_uri_is_registered(registered: &[String], requested: &str) -> bool {
    registered
        .iter()
        .any(|uri| redirect_uri_matches(uri, requested))
}

/// Checks that a URL the page links to is `http` or `https`.
fn is_web_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

/// Returns whether a failed backend call may succeed when retried.
fn is_temporary(error: &Error) -> bool {
    matches!(error, Error::Network { .. } | Error::Timeout { .. })
        || error
            .status()
            .is_some_and(|status| status == 429 || status >= 500)
}

fn error_page(status: StatusCode, text: &str) -> Response {
    page::message(status, "Authorization failed", text, None)
}

fn store_failure_page(error: &StoreError) -> Response {
    tracing::error!(target: "alter::mcp::auth", %error, "the authorization store failed");
    page::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        "The authorization server cannot reach its store. Try again in a moment.",
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_registered_redirect_uri_matches() {
        let registered = vec![
            "http://127.0.0.1:3000/callback".to_owned(),
            "https://app.example.com/cb".to_owned(),
        ];
        assert!(redirect_uri_is_registered(
            &registered,
            "https://app.example.com/cb"
        ));
        assert!(redirect_uri_is_registered(
            &registered,
            "http://127.0.0.1:49152/callback"
        ));
        assert!(!redirect_uri_is_registered(
            &registered,
            "https://evil.example/cb"
        ));
        assert!(!redirect_uri_is_registered(
            &[],
            "https://app.example.com/cb"
        ));
    }

    #[test]
    fn duplicate_and_oversized_parameters_rejected() {
        assert!(Parameters::parse(b"state=a&state=b").is_err());
        let long = format!("state={}", "a".repeat(MAX_PARAMETER_LENGTH + 1));
        let error = Parameters::parse(long.as_bytes()).unwrap_err();
        assert!(!error.contains("aaaa"), "{error}");
        let odd = Parameters::parse(b"%3Cscript%3E=1&%3Cscript%3E=2").unwrap_err();
        assert!(!odd.contains("script"), "{odd}");
        let parsed = Parameters::parse(b"client_id=c&scope=&state=s%20t").unwrap();
        assert_eq!(parsed.get("client_id"), Some("c"));
        assert_eq!(parsed.get("scope"), None);
        assert_eq!(parsed.get("state"), Some("s t"));
    }
}
