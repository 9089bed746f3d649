//! The demo provider's authorization server: consent page, authorization codes with PKCE, and
//! the token endpoint with refresh-token rotation.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use subtle::ConstantTimeEq;
use url::Url;

use super::{
    Authorization, CLIENT_ID, CONSENT_LIFETIME_SECS, ConsentRequest, DEFAULT_ACCOUNT,
    DEFAULT_SCOPES, DemoProvider, DemoState, IssuedCode, IssuedTokens, describe_scope,
    unknown_scope,
};
use crate::dev::clock::unix_now;
use crate::dev::errors::ApiError;
use crate::dev::form;
use crate::dev::html::{Page, escape};
use crate::dev::idp::validate_user_name;
use crate::dev::provider::pkce_challenge;
use crate::dev::secret::{Secret, random_token};
use crate::dev::server::DevState;
use crate::dev::wire;

/// `GET /demo/oauth/authorize`: validates the authorization request, then shows the consent
/// page, or with auto-approve redirects straight back with a code.
pub(in crate::dev) async fn authorize(State(state): State<Arc<DevState>>, uri: Uri) -> Response {
    let demo = &state.demo;
    let params = form::query(&uri);
    let param = |name: &str| params.get(name).map_or("", String::as_str);

    // Without a trusted redirect URI the error cannot be sent back, so it is shown here.
    if param("client_id") != CLIENT_ID {
        return Page::new("Unknown client")
            .paragraph(&format!(
                "client_id {:?} is not registered with the demo provider.",
                param("client_id")
            ))
            .render(StatusCode::BAD_REQUEST);
    }
    if param("redirect_uri") != demo.redirect_uri {
        return Page::new("Unregistered redirect URI")
            .paragraph(&format!(
                "redirect_uri {:?} is not registered for this client; expected {:?}.",
                param("redirect_uri"),
                demo.redirect_uri
            ))
            .render(StatusCode::BAD_REQUEST);
    }

    let oauth_state = params.get("state").cloned();
    let reject = |error: &str, description: &str| {
        redirect_back(
            &demo.redirect_uri,
            &[("error", error), ("error_description", description)],
            oauth_state.as_deref(),
        )
    };
    if param("response_type") != "code" {
        return reject(
            "unsupported_response_type",
            "the demo provider only issues authorization codes",
        );
    }
    let code_challenge = param("code_challenge");
    if param("code_challenge_method") != "S256" || !is_pkce_challenge(code_challenge) {
        return reject(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        );
    }
    let mut scopes: Vec<String> = param("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        scopes = DEFAULT_SCOPES
            .iter()
            .map(|scope| (*scope).to_owned())
            .collect();
    }
    if let Some(scope) = unknown_scope(&scopes) {
        return reject("invalid_scope", &format!("unknown scope {scope:?}"));
    }
    // `prompt=select_account` requests another account than the one already connected, so
    // the consent page suggests none and waits for the user even with auto-approve.
    let select_account = param("prompt") == "select_account";
    let account = match param("login_hint") {
        _ if select_account => String::new(),
        hint if validate_user_name(hint).is_ok() => hint.to_owned(),
        _ => DEFAULT_ACCOUNT.to_owned(),
    };

    let consent = ConsentRequest {
        redirect_uri: demo.redirect_uri.clone(),
        state: oauth_state,
        code_challenge: code_challenge.to_owned(),
        scopes,
        account,
        expires_at: unix_now() + CONSENT_LIFETIME_SECS,
    };
    if demo.auto_approve && !select_account {
        let account = consent.account.clone();
        return approve(demo, consent, account);
    }
    let consent_id = random_token();
    {
        let mut state = demo.lock();
        let now = unix_now();
        state.consents.retain(|_, consent| consent.expires_at > now);
        state.consents.insert(consent_id.clone(), consent.clone());
    }
    consent_page(&consent_id, &consent, None, StatusCode::OK)
}

/// `POST /demo/oauth/authorize`: the consent page's form, with `consent`, `decision`
/// (`approve` or `deny`) and `account`.
pub(in crate::dev) async fn decide(
    State(state): State<Arc<DevState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::unreadable_body(&rejection).into_response(),
    };
    let demo = &state.demo;
    let params = form::parse(&body);
    let consent_id = params.get("consent").map_or("", String::as_str);
    let consent = demo
        .lock()
        .consents
        .get(consent_id)
        .filter(|consent| consent.expires_at > unix_now())
        .cloned();
    let Some(consent) = consent else {
        return Page::new("Consent expired")
            .paragraph("This consent request is unknown or expired. Start again from the app.")
            .render(StatusCode::BAD_REQUEST);
    };

    match params.get("decision").map(String::as_str) {
        Some("deny") => {
            demo.lock().consents.remove(consent_id);
            redirect_back(
                &consent.redirect_uri,
                &[
                    ("error", "access_denied"),
                    ("error_description", "the user denied access"),
                ],
                consent.state.as_deref(),
            )
        }
        Some("approve") => {
            let account = params.get("account").map_or("", |account| account.trim());
            if let Err(problem) = validate_user_name(account) {
                return consent_page(
                    consent_id,
                    &consent,
                    Some(&problem),
                    StatusCode::BAD_REQUEST,
                );
            }
            if demo.lock().consents.remove(consent_id).is_none() {
                return Page::new("Consent already answered")
                    .paragraph("This consent request was already answered.")
                    .render(StatusCode::BAD_REQUEST);
            }
            approve(demo, consent, account.to_owned())
        }
        _ => consent_page(
            consent_id,
            &consent,
            Some("choose Approve or Deny"),
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// Issues a code for `consent` and sends the browser back to the client with it.
fn approve(demo: &DemoProvider, consent: ConsentRequest, account: String) -> Response {
    let code = random_token();
    {
        let mut state = demo.lock();
        let now = unix_now();
        state.codes.retain(|_, code| code.expires_at > now);
        state.codes.insert(
            code.clone(),
            IssuedCode {
                redirect_uri: consent.redirect_uri.clone(),
                code_challenge: consent.code_challenge,
                authorization: Authorization {
                    account,
                    scopes: consent.scopes,
                },
                expires_at: now + wire::DEMO_CODE_LIFETIME.as_secs(),
            },
        );
    }
    redirect_back(
        &consent.redirect_uri,
        &[("code", &code)],
        consent.state.as_deref(),
    )
}

fn consent_page(
    consent_id: &str,
    consent: &ConsentRequest,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut scopes = String::from("<ul>");
    for scope in &consent.scopes {
        let _ = write!(
            scopes,
            "<li><code>{}</code> {}</li>",
            escape(scope),
            escape(describe_scope(scope))
        );
    }
    scopes.push_str("</ul>");
    let problem = problem.map_or(String::new(), |problem| {
        format!(r#"<p class="error">{}</p>"#, escape(problem))
    });
    let form = format!(
        concat!(
            r#"<form method="post" action="{action}">"#,
            r#"<input type="hidden" name="consent" value="{consent}">"#,
            r#"<p><label>Account <input name="account" value="{account}" required></label></p>"#,
            r#"<p><button name="decision" value="approve">Approve</button> "#,
            r#"<button name="decision" value="deny" class="secondary">Deny</button></p>"#,
            "</form>"
        ),
        action = super::AUTHORIZE_PATH,
        consent = escape(consent_id),
        account = escape(&consent.account),
    );
    Page::new("Authorize DevVault")
        .paragraph("DevVault asks the demo provider for access to this account:")
        .push_html(&scopes)
        .push_html(&problem)
        .push_html(&form)
        .render(status)
}

/// Redirects to the client's `redirect_uri` with `params` and the request's `state`.
fn redirect_back(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut url = Url::parse(redirect_uri).expect("the registered redirect URI parses");
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(params);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

/// `POST /demo/oauth/token`: `authorization_code` and `refresh_token` grants, with the client
/// authenticated by HTTP Basic or by `client_id` and `client_secret` in the body.
pub(in crate::dev) async fn token(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::unreadable_body(&rejection).into_response(),
    };
    let demo = &state.demo;
    let params = form::parse(&body);
    if let Err(response) = authenticate_client(demo, &headers, &params) {
        return response;
    }
    let param = |name: &str| params.get(name).map_or("", String::as_str);
    let mut state = demo.lock();
    let issued = match param("grant_type") {
        "authorization_code" => exchange_code(
            &mut state,
            param("code"),
            param("redirect_uri"),
            param("code_verifier"),
        ),
        "refresh_token" => rotate_refresh_token(&mut state, param("refresh_token"), param("scope")),
        "" => Err(token_error("invalid_request", "missing grant_type")),
        other => Err(token_error(
            "unsupported_grant_type",
            &format!(
                "grant_type {other:?} is not supported; use authorization_code or refresh_token"
            ),
        )),
    };
    let authorization = match issued {
        Ok(authorization) => authorization,
        Err(response) => return response,
    };
    let tokens = demo.issue_tokens(&mut state, authorization);
    drop(state);
    token_response(tokens)
}

fn exchange_code(
    state: &mut DemoState,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<Authorization, Response> {
    let issued = state
        .codes
        .remove(code)
        .filter(|issued| issued.expires_at > unix_now())
        .ok_or_else(|| {
            token_error(
                "invalid_grant",
                "the code is unknown, expired or already used",
            )
        })?;
    if issued.redirect_uri != redirect_uri {
        return Err(token_error(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    if !is_pkce_verifier(code_verifier) {
        return Err(token_error(
            "invalid_request",
            "code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~",
        ));
    }
    if pkce_challenge(&Secret::new(code_verifier)) != issued.code_challenge {
        return Err(token_error(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(issued.authorization)
}

fn rotate_refresh_token(
    state: &mut DemoState,
    refresh_token: &str,
    scope: &str,
) -> Result<Authorization, Response> {
    let mut authorization = state
        .refresh_tokens
        .get(refresh_token)
        .cloned()
        .ok_or_else(|| {
            token_error(
                "invalid_grant",
                "the refresh token is unknown or was rotated",
            )
        })?;
    let requested: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    if let Some(extra) = requested
        .iter()
        .find(|scope| !authorization.scopes.contains(scope))
    {
        return Err(token_error(
            "invalid_scope",
            &format!("scope {extra:?} was not granted to this refresh token"),
        ));
    }
    if !requested.is_empty() {
        authorization.scopes = requested;
    }
    state.refresh_tokens.remove(refresh_token);
    Ok(authorization)
}

fn authenticate_client(
    demo: &DemoProvider,
    headers: &HeaderMap,
    params: &std::collections::HashMap<String, String>,
) -> Result<(), Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let (client_id, client_secret) = match basic {
        Some((_, encoded)) => {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let credentials = decoded.as_deref().and_then(|text| text.split_once(':'));
            match credentials {
                Some((id, secret)) => (form_decode(id), form_decode(secret)),
                None => (String::new(), String::new()),
            }
        }
        None => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    let secret_matches: bool = client_secret
        .as_bytes()
        .ct_eq(demo.client_secret.expose().as_bytes())
        .into();
    if client_id == CLIENT_ID && secret_matches {
        return Ok(());
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "error": "invalid_client",
            "error_description": "unknown client or wrong client secret",
        })),
    )
        .into_response();
    if basic.is_some() {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="DevVault demo""#),
        );
    }
    Err(response)
}

fn token_response(tokens: IssuedTokens) -> Response {
    let mut response = Json(json!({
        "access_token": tokens.access_token.expose(),
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token.expose(),
        "scope": tokens.scopes.join(" "),
    }))
    .into_response();
    no_store(&mut response);
    response
}

fn token_error(error: &str, description: &str) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Decodes one form-encoded Basic credential: `+` is a space and `%XX` a byte.
fn form_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Returns whether `challenge` is the unpadded base64url of a SHA-256 digest: 43 characters.
fn is_pkce_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
