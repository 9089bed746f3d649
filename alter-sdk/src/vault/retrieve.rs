//! Sending a credential request: fetch the credential, call the provider, record the audit row.
//!
//! The order is fixed so that nothing leaves the process before every local check passed.
//! The steps are: validate the arguments and the provider URL, resolve the user,
//! `POST /sdk/token`, validate the token response, inject the credential, call the provider,
//! schedule the audit row, and only then turn an error status into a typed error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method};
use serde_json::{Map, Value, json};

use crate::audit_context;
use crate::error::{Error, ProviderError, ScopeReauth};
use crate::identity::UserToken;
use crate::protocol::audit::{
    AUDIT_ENDPOINT, AuditRow, TransportFailure, audit_request_headers, audit_response_headers,
    describe_raw_request_body, describe_response_body, describe_transport_failure,
};
use crate::protocol::context::AuditContext;
use crate::protocol::inject::{Injection, plan_injection};
use crate::protocol::json::to_ascii_vec;
use crate::protocol::provider_url::{
    apply_path_params, check_url_length, encode_path_segment, validate_provider_url,
};
use crate::protocol::token_response::{TokenResponse, parse_token_response};
use crate::protocol::www_authenticate::parse_bearer_challenge;

use super::audit::BackgroundPost;
use super::backend::{Backend, SDK_USER_AGENT, transport_error};
use super::request::{Body, GrantSelector, RequestBuilder};
use super::response::Response;
use super::retry::post_token_request;
use super::transport::TransportError;

const TOKEN_PATH: &str = "/sdk/token";
const SCOPE_REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// The checked arguments of one credential request.
struct Checked {
    method: Method,
    /// The URL after path parameters, as sent to `/sdk/token` and recorded in the audit row.
    url: String,
    provider_url: url::Url,
    context: AuditContext,
    encoded_context: Option<String>,
    body: Option<(Bytes, bool)>,
    user_token: Option<UserToken>,
}

pub(crate) async fn send(request: RequestBuilder) -> Result<Response, Error> {
    let checked = check(&request)?;
    let token_body = token_request_body(&request, &checked)?;

    let inner = request.vault.inner();
    let backend = Arc::clone(inner.backend());
    let reply = post_token_request(
        &backend,
        inner.token_retry(),
        token_body,
        checked.encoded_context.as_deref(),
    )
    .await?;
    let token = parse_token_response(&reply.body)?;
    let injection = plan_injection(&token)?;

    let outgoing = build_provider_request(&request, &checked, &injection)?;
    let audit_headers = outgoing.audit_headers.clone();
    let timeout = inner.provider_timeout();
    let started = Instant::now();
    let result = inner.provider().send(outgoing.request, timeout).await;
    let latency = started.elapsed();

    let (response_status, response_headers, response_body) = match &result {
        Ok(response) => (
            response.status().as_u16(),
            Some(audit_response_headers(response.headers())),
            describe_response_body(response.body()),
        ),
        Err(TransportError::Timeout) => (
            0,
            None,
            describe_transport_failure(TransportFailure::Timeout(timeout)),
        ),
        Err(TransportError::Network(_)) => (
            0,
            None,
            describe_transport_failure(TransportFailure::Network),
        ),
    };
    let row = AuditRow {
        grant_id: token.grant_id.clone(),
        provider_id: token.provider_id.clone(),
        token_generation: token.token_generation.clone(),
        method: checked.method.as_str().to_owned(),
        url: checked.url.clone(),
        request_headers: audit_request_headers(audit_headers, &injection),
        request_body: request_body_record(&request.body),
        response_status,
        response_headers,
        response_body,
        latency_ms: latency_ms(&backend, latency),
        reason: request.reason.clone(),
        context: (!checked.context.is_empty()).then(|| checked.context.clone()),
    };
    schedule_audit(&request, &backend, &row, checked.encoded_context.clone());

    let response =
        result.map_err(|e| transport_error(e, origin_of(&checked.provider_url), timeout))?;
    check_provider_status(&request, &checked, &token, &backend, response)
}

fn check(request: &RequestBuilder) -> Result<Checked, Error> {
    if request
        .user_token
        .as_ref()
        .is_some_and(|t| t.expose_secret().is_empty())
    {
        return Err(Error::invalid_request("the user token is empty"));
    }
    for (name, value) in [
        ("label", &request.label),
        ("app_user_id", &request.app_user_id),
    ] {
        if value.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid_request(format!("{name} must not be empty")));
        }
        if value.is_some() && !matches!(request.grant, GrantSelector::Provider(_)) {
            return Err(Error::invalid_request(format!(
                "{name} selects among a provider's grants, so it needs `.provider(…)`, not `.grant_id(…)`"
            )));
        }
    }
    match &request.grant {
        GrantSelector::Unset => {
            return Err(Error::invalid_request(
                "choose the grant with `.provider(…)` or `.grant_id(…)`",
            ));
        }
        GrantSelector::Both => {
            return Err(Error::invalid_request(
                "`.provider(…)` and `.grant_id(…)` exclude each other; set only one",
            ));
        }
        GrantSelector::Provider(provider) if provider.is_empty() => {
            return Err(Error::invalid_request("the provider id must not be empty"));
        }
        GrantSelector::GrantId(grant_id) if grant_id.is_empty() => {
            return Err(Error::invalid_request("the grant id must not be empty"));
        }
        _ => {}
    }
    for (name, value) in &request.headers {
        provider_header(name, value)?;
    }
    let body = match &request.body {
        Body::Empty => None,
        Body::Json(value) => {
            let bytes = serde_json::to_vec(value).map_err(|e| {
                Error::invalid_request(format!("the JSON body cannot be encoded: {e}"))
            })?;
            Some((Bytes::from(bytes), true))
        }
        Body::Raw(bytes) => Some((bytes.clone(), false)),
        Body::Invalid(message) => return Err(Error::invalid_request(message.clone())),
    };

    let context = audit_context(request);
    let encoded_context = context.encode()?;

    let method = Method::from_bytes(request.method.as_str().to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::invalid_request(format!("invalid HTTP method `{}`", request.method)))?;
    let url = apply_path_params(&request.url, &request.path_params)?;
    let provider_url = validate_provider_url(&url)?;
    check_url_length(&url_with_query(&provider_url, &request.query))?;

    let user_token = request
        .vault
        .resolve_user_token(request.user_token.as_ref())?;

    Ok(Checked {
        method,
        url,
        provider_url,
        context,
        encoded_context,
        body,
        user_token,
    })
}

/// Returns the request's own audit context or, when it set no key, the ambient one. The two are
/// never merged, as in the official clients.
fn audit_context(request: &RequestBuilder) -> AuditContext {
    if request.context.is_empty() {
        return audit_context::current().unwrap_or_default();
    }
    let mut context = AuditContext::new();
    for (key, value) in &request.context {
        context.insert(key.clone(), value.clone());
    }
    context
}

/// Encodes the `/sdk/token` body, keys in the protocol's order.
fn token_request_body(request: &RequestBuilder, checked: &Checked) -> Result<Vec<u8>, Error> {
    let mut body = Map::new();
    let target = json!({ "method": checked.method.as_str(), "url": checked.url });
    match &request.grant {
        GrantSelector::Provider(provider) => {
            body.insert("provider_id".into(), json!(provider));
            body.insert("reason".into(), json!(request.reason));
            body.insert("request".into(), target);
            if let Some(token) = &checked.user_token {
                body.insert("user_token".into(), json!(token.expose_secret()));
            }
            if let Some(app_user_id) = &request.app_user_id {
                body.insert("app_user_id".into(), json!(app_user_id));
            }
            if let Some(account) = request.account.as_deref().filter(|a| !a.is_empty()) {
                body.insert("account".into(), json!(account));
            }
            if let Some(label) = &request.label {
                body.insert("label".into(), json!(label));
            }
        }
        GrantSelector::GrantId(grant_id) => {
            body.insert("grant_id".into(), json!(grant_id));
            body.insert("reason".into(), json!(request.reason));
            body.insert("request".into(), target);
            if let Some(token) = &checked.user_token {
                body.insert("user_token".into(), json!(token.expose_secret()));
            }
        }
        GrantSelector::Unset | GrantSelector::Both => unreachable!("checked before encoding"),
    }
    to_ascii_vec(&body).map_err(|e| Error::invalid_request(format!("failed to encode: {e}")))
}

struct Outgoing {
    request: http::Request<Bytes>,
    audit_headers: Vec<(String, String)>,
}

/// Builds the provider request: the caller's headers, the injected credential, the user agent,
/// additional injections, then the query and body.
fn build_provider_request(
    request: &RequestBuilder,
    checked: &Checked,
    injection: &Injection,
) -> Result<Outgoing, Error> {
    let mut named: Vec<(String, String)> = request.headers.clone();
    for (name, value) in injection.headers() {
        let value = value
            .to_str()
            .map_err(|_| {
                Error::malformed(
                    TOKEN_PATH,
                    format!("the credential for header `{name}` is not visible ASCII"),
                )
            })?
            .to_owned();
        match named
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
        {
            Some(entry) => {
                tracing::debug!(
                    target: "alter::request",
                    header = name.as_str(),
                    "the injected credential replaces a header the caller set"
                );
                *entry = (name.as_str().to_owned(), value);
            }
            None => named.push((name.as_str().to_owned(), value)),
        }
    }
    if !named
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(USER_AGENT.as_str()))
    {
        named.push(("User-Agent".to_owned(), SDK_USER_AGENT.to_owned()));
    }

    let mut headers = HeaderMap::with_capacity(named.len() + 1);
    for (name, value) in &named {
        let (header_name, header_value) = provider_header(name, value)?;
        headers.append(header_name, header_value);
    }
    // Re-applying marks the injected values sensitive, so `Debug` of the request hides them.
    injection.apply_headers(&mut headers);
    let (body, is_json) = checked.body.clone().unwrap_or_default();
    if is_json && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }

    let mut url = url_with_query(&checked.provider_url, &request.query);
    injection.apply_query(&mut url);
    check_url_length(&url)?;

    let mut outgoing = http::Request::builder()
        .method(checked.method.clone())
        .uri(url.as_str())
        .body(body)
        .map_err(|e| Error::invalid_request(format!("invalid provider request: {e}")))?;
    *outgoing.headers_mut() = headers;
    Ok(Outgoing {
        request: outgoing,
        audit_headers: named,
    })
}

/// Converts one provider request header, naming it in the error.
fn provider_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::invalid_request(format!("invalid header name `{name}`")))?;
    let header_value = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_request(format!(
            "the value of header `{name}` is not a valid header value"
        ))
    })?;
    Ok((header_name, header_value))
}

/// Appends the caller's query parameters after any query already in the URL.
fn url_with_query(url: &url::Url, query: &[(String, String)]) -> url::Url {
    let mut url = url.clone();
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

fn request_body_record(body: &Body) -> Value {
    match body {
        Body::Json(value) => value.clone(),
        Body::Raw(bytes) => describe_raw_request_body(bytes),
        Body::Empty | Body::Invalid(_) => Value::Null,
    }
}

fn schedule_audit(
    request: &RequestBuilder,
    backend: &Arc<Backend>,
    row: &AuditRow,
    context: Option<String>,
) {
    request.vault.inner().audit().schedule(
        Arc::clone(backend),
        BackgroundPost {
            path: AUDIT_ENDPOINT.to_owned(),
            body: row.to_json(),
            actor_headers: true,
            context,
            timeout: None,
        },
    );
}

/// Returns the response for a success status, or the typed provider error.
fn check_provider_status(
    request: &RequestBuilder,
    checked: &Checked,
    token: &TokenResponse,
    backend: &Arc<Backend>,
    response: http::Response<Bytes>,
) -> Result<Response, Error> {
    let (parts, body) = response.into_parts();
    let status = parts.status.as_u16();
    if status < 400 {
        return Ok(Response::new(parts.status, parts.headers, body));
    }

    let www_authenticate = parts
        .headers
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let challenge = www_authenticate.as_deref().and_then(parse_bearer_challenge);
    let challenge_error = challenge.as_ref().and_then(|c| c.error());
    let provider_id = (!token.provider_id.is_empty()).then(|| token.provider_id.clone());

    if status == 403 && challenge_error == Some("insufficient_scope") {
        let missing: Option<Vec<String>> = challenge
            .as_ref()
            .and_then(|c| c.scopes())
            .map(|scopes| scopes.into_iter().map(str::to_owned).collect());
        schedule_scope_report(
            request,
            backend,
            &token.grant_id,
            missing.as_deref(),
            www_authenticate.as_deref().unwrap_or_default(),
            &checked.url,
        );
        return Err(Error::ScopeReauthRequired(ScopeReauth {
            status,
            provider_id,
            grant_id: Some(token.grant_id.clone()),
            missing_scopes: missing.unwrap_or_default(),
            source: "provider_insufficient_scope".into(),
            backend: None,
        }));
    }
    if status == 403 && token.scope_mismatch {
        return Err(Error::ScopeReauthRequired(ScopeReauth {
            status,
            provider_id,
            grant_id: Some(token.grant_id.clone()),
            missing_scopes: Vec::new(),
            source: "backend_flag".into(),
            backend: None,
        }));
    }

    let error = ProviderError {
        status,
        method: checked.method.as_str().to_owned(),
        url: checked.url.clone(),
        grant_id: Some(token.grant_id.clone()),
        provider_id,
        www_authenticate,
        body: describe_response_body(&body),
    };
    if status == 401 && challenge_error != Some("insufficient_scope") {
        return Err(Error::ProviderUnauthorized(error));
    }
    Err(Error::Provider(error))
}

/// Reports a provider's `insufficient_scope` response so the backend can flag the grant. Runs in
/// the background with a 2 second limit; failures are only logged.
fn schedule_scope_report(
    request: &RequestBuilder,
    backend: &Arc<Backend>,
    grant_id: &str,
    missing: Option<&[String]>,
    www_authenticate: &str,
    api_endpoint: &str,
) {
    let missing = missing.map(|scopes| {
        scopes
            .iter()
            .take(50)
            .map(|s| s.chars().take(256).collect::<String>())
            .collect::<Vec<_>>()
    });
    let body = json!({
        "provider_status_code": 403,
        "provider_error_code": "insufficient_scope",
        "missing_scopes": missing,
        "raw_www_authenticate": www_authenticate.chars().take(4096).collect::<String>(),
        "api_endpoint": api_endpoint.chars().take(2048).collect::<String>(),
        "detection_source": "www_authenticate_rfc6750",
        "sdk_correlation_id": correlation_id(backend),
    });
    let Ok(body) = to_ascii_vec(&body) else {
        return;
    };
    let path = format!(
        "/sdk/grants/{}/report-scope-mismatch",
        encode_path_segment(grant_id)
    );
    request.vault.inner().audit().schedule(
        Arc::clone(backend),
        BackgroundPost {
            path,
            body,
            actor_headers: false,
            context: None,
            timeout: Some(SCOPE_REPORT_TIMEOUT),
        },
    );
}

/// 16 random bytes as unpadded base64url: 22 characters.
fn correlation_id(backend: &Backend) -> String {
    use base64::Engine as _;
    #[cfg(test)]
    if let Some(fixed) = backend.fixed_signing() {
        return fixed.correlation_id.clone();
    }
    #[cfg(not(test))]
    let _ = backend;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

fn latency_ms(backend: &Backend, latency: Duration) -> u64 {
    #[cfg(test)]
    if backend.fixed_signing().is_some() {
        return 0;
    }
    #[cfg(not(test))]
    let _ = backend;
    u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)
}

fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}
