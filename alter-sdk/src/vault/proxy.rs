//! Proxy mode: the backend calls the provider itself, so the credential never reaches this
//! process, and it may hold the call for a human approval first.
//!
//! `POST /sdk/proxy` returns 200 with the provider's response, or 202 when an approval is
//! required. [`ProxyRequestBuilder::send`] then waits for the decision (see
//! [`Vault::wait_for_approval`]), and [`ProxyRequestBuilder::submit`] returns the pending
//! approval so the app can show its URL first. The backend writes the audit row of a proxied
//! call, so the client sends none.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{ApprovalError, ApprovalErrorKind, Error};
use crate::identity::UserToken;
use crate::protocol::context::AuditContext;
use crate::protocol::error_body::map_error_response;
use crate::protocol::json::to_ascii_vec;
use crate::protocol::provider_url::apply_path_params;
use crate::protocol::proxy::check_proxy_header_name;

use super::Vault;
use super::approval::{ApprovalGate, DEFAULT_APPROVAL_TIMEOUT, parse_gates};
use super::backend::{Call, Reply, is_canonical_uuid};
use super::request::GrantSelector;

const PROXY_PATH: &str = "/sdk/proxy";

/// Builder for a proxy-mode call, created by [`Vault::proxy_request`].
///
/// Choose the grant like [`Vault::request`] does, add what the provider request needs, then
/// [`send`](Self::send) it. The URL gets `{name}` path parameters filled in but is otherwise
/// checked by the backend, not here.
#[must_use = "a proxy request does nothing until it is sent"]
pub struct ProxyRequestBuilder {
    vault: Vault,
    method: Method,
    url: String,
    grant: GrantSelector,
    account: Option<String>,
    label: Option<String>,
    app_user_id: Option<String>,
    body: Option<Result<Value, String>>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    path_params: Vec<(String, String)>,
    reason: Option<String>,
    context: Vec<(String, String)>,
    user_token: Option<UserToken>,
    approval_timeout: Duration,
}

impl Vault {
    /// Starts a proxy-mode call: the backend fetches the user's credential, calls the provider
    /// and returns its response, so the credential never reaches this process.
    pub fn proxy_request(&self, method: Method, url: impl Into<String>) -> ProxyRequestBuilder {
        ProxyRequestBuilder {
            vault: self.clone(),
            method,
            url: url.into(),
            grant: GrantSelector::Unset,
            account: None,
            label: None,
            app_user_id: None,
            body: None,
            headers: Vec::new(),
            query: Vec::new(),
            path_params: Vec::new(),
            reason: None,
            context: Vec::new(),
            user_token: None,
            approval_timeout: DEFAULT_APPROVAL_TIMEOUT,
        }
    }
}

impl ProxyRequestBuilder {
    /// Uses the user's grant for this provider id (or managed-secret slug).
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.grant = match self.grant {
            GrantSelector::Unset | GrantSelector::Provider(_) => {
                GrantSelector::Provider(provider.into())
            }
            _ => GrantSelector::Both,
        };
        self
    }

    /// Uses this grant id.
    pub fn grant_id(mut self, grant_id: impl Into<String>) -> Self {
        self.grant = match self.grant {
            GrantSelector::Unset | GrantSelector::GrantId(_) => {
                GrantSelector::GrantId(grant_id.into())
            }
            _ => GrantSelector::Both,
        };
        self
    }

    /// Chooses among several grants for the provider by account, e.g. an email address.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Chooses among several grants for the provider by the label given at connect time.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Names the end user by the application's own id, for app-scoped calls.
    pub fn app_user_id(mut self, app_user_id: impl Into<String>) -> Self {
        self.app_user_id = Some(app_user_id.into());
        self
    }

    /// Sends `body` to the provider as JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = Some(
            serde_json::to_value(body)
                .map_err(|error| format!("the JSON body cannot be serialized: {error}")),
        );
        self
    }

    /// Adds a header to the provider request. Credential and routing headers such as
    /// `Authorization` or `Host` are rejected when the request is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter to the provider request.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Fills `{name}` in the URL with `value`, percent-encoded so that it stays one path
    /// segment.
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.path_params.push((name.into(), value.into()));
        self
    }

    /// Records why the call is made; it reaches the audit log.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a key to the audit context sent as `X-Alter-Context`.
    pub fn context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// Acts for this user instead of the one bound to the vault or in scope.
    pub fn user_token(mut self, token: impl Into<UserToken>) -> Self {
        self.user_token = Some(token.into());
        self
    }

    /// Sets how long [`send`](Self::send) waits for an approval. Defaults to 300 seconds.
    pub fn approval_timeout(mut self, timeout: Duration) -> Self {
        self.approval_timeout = timeout;
        self
    }

    /// Sends the call and returns the provider's response, waiting for the approval when the
    /// backend requires one.
    ///
    /// A provider error status is returned as a [`ProxyResponse`] like any other, because the
    /// backend already made and recorded the call.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidRequest`] for invalid arguments, checked before any network call;
    /// - [`Error::MissingUserToken`] when the call needs a user and none is in scope;
    /// - [`Error::Approval`] when the approval is denied, expires, fails to execute or is not
    ///   decided within the approval timeout;
    /// - the typed backend error when the backend rejects the call, e.g.
    ///   [`Error::GrantNotFound`];
    /// - [`Error::MalformedResponse`] when a response breaks the protocol;
    /// - [`Error::Network`] or [`Error::Timeout`] when a request fails to complete.
    pub async fn send(self) -> Result<ProxyResponse, Error> {
        let vault = self.vault.without_user_token();
        let timeout = self.approval_timeout;
        match self.submit().await? {
            ProxyOutcome::Completed(response) => Ok(response),
            ProxyOutcome::ApprovalRequired(pending) => {
                tracing::debug!(
                    target: "alter::proxy",
                    approval_id = %pending.approval_id,
                    "the proxy call needs an approval; waiting for the decision"
                );
                vault
                    .wait_for_approval(pending.approval_id)
                    .timeout(timeout)
                    .await
            }
        }
    }

    /// Sends the call and returns at once: the provider's response, or the pending approval
    /// whose URL an approver opens. Pass its id to [`Vault::wait_for_approval`] to wait for the
    /// result.
    ///
    /// # Errors
    ///
    /// The same as [`send`](Self::send), except that no approval is awaited.
    pub async fn submit(self) -> Result<ProxyOutcome, Error> {
        let (body, context) = self.encode()?;
        let mut call = Call::post_json(PROXY_PATH, body);
        call.context = context.as_deref();
        let reply = self.vault.inner().backend().send(call).await?;
        match reply.status.as_u16() {
            200 => parse_result(PROXY_PATH, &reply.body).map(ProxyOutcome::Completed),
            202 => parse_pending(&reply.body).map(ProxyOutcome::ApprovalRequired),
            status if status >= 400 => Err(map_proxy_error(&reply)),
            status => Err(Error::malformed(
                PROXY_PATH,
                format!("expected HTTP 200 or 202, got {status}"),
            )),
        }
    }

    /// Checks the arguments and encodes the `/sdk/proxy` body and the audit context.
    fn encode(&self) -> Result<(Vec<u8>, Option<String>), Error> {
        if self
            .user_token
            .as_ref()
            .is_some_and(|token| token.expose_secret().is_empty())
        {
            return Err(Error::invalid_request("the user token is empty"));
        }
        for (name, value) in [
            ("account", &self.account),
            ("label", &self.label),
            ("app_user_id", &self.app_user_id),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                return Err(Error::invalid_request(format!("{name} must not be empty")));
            }
            if value.is_some() && !matches!(self.grant, GrantSelector::Provider(_)) {
                return Err(Error::invalid_request(format!(
                    "{name} selects among a provider's grants, so it needs `.provider(…)`, not \
                     `.grant_id(…)`"
                )));
            }
        }
        let (grant_id, provider_id) = match &self.grant {
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
            GrantSelector::Provider(provider) => (None, Some(provider)),
            GrantSelector::GrantId(grant_id) => (Some(grant_id), None),
        };
        let headers = unique_map("header", &self.headers, true)?;
        for name in headers.keys() {
            check_proxy_header_name(name).map_err(Error::invalid_request)?;
        }
        let query = unique_map("query parameter", &self.query, false)?;
        let provider_body = self
            .body
            .clone()
            .transpose()
            .map_err(Error::invalid_request)?;

        let mut context = AuditContext::new();
        for (key, value) in &self.context {
            context.insert(key.clone(), value.clone());
        }
        let encoded_context = context.encode()?;
        let method = self.method.as_str().to_ascii_uppercase();
        let url = apply_path_params(&self.url, &self.path_params)?;
        let user_token = if self.app_user_id.is_some() && self.user_token.is_none() {
            // The application names the user itself, so a missing token is not a fallback.
            self.vault.resolve_user_token(None).unwrap_or(None)
        } else {
            self.vault.resolve_user_token(self.user_token.as_ref())?
        };

        let mut body = Map::new();
        body.insert("method".into(), json!(method));
        body.insert("url".into(), json!(url));
        let optional = [
            ("grant_id", grant_id.cloned()),
            ("provider_id", provider_id.cloned()),
            ("account", self.account.clone()),
            ("label", self.label.clone()),
            (
                "user_token",
                user_token.map(|token| token.expose_secret().to_owned()),
            ),
            ("app_user_id", self.app_user_id.clone()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                body.insert(key.into(), Value::String(value));
            }
        }
        if let Some(provider_body) = provider_body {
            body.insert("body".into(), provider_body);
        }
        if !headers.is_empty() {
            body.insert("headers".into(), Value::Object(headers));
        }
        if !query.is_empty() {
            body.insert("query_params".into(), Value::Object(query));
        }
        if let Some(reason) = &self.reason {
            body.insert("reason".into(), json!(reason));
        }
        let body = to_ascii_vec(&body)
            .map_err(|e| Error::invalid_request(format!("failed to encode: {e}")))?;
        Ok((body, encoded_context))
    }
}

impl fmt::Debug for ProxyRequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyRequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("grant", &self.grant)
            .field("account", &self.account)
            .field("label", &self.label)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("user_token", &self.user_token)
            .finish_non_exhaustive()
    }
}

/// Builds a JSON object from name-value pairs, rejecting a name given twice (compared
/// case-insensitively when `case_insensitive`), because the wire format is an object.
fn unique_map(
    what: &str,
    pairs: &[(String, String)],
    case_insensitive: bool,
) -> Result<Map<String, Value>, Error> {
    let mut map = Map::new();
    for (index, (name, value)) in pairs.iter().enumerate() {
        let duplicate = pairs[..index].iter().any(|(earlier, _)| {
            if case_insensitive {
                earlier.eq_ignore_ascii_case(name)
            } else {
                earlier == name
            }
        });
        if duplicate {
            return Err(Error::invalid_request(format!(
                "{what} `{name}` is given twice; proxy mode sends one value per name"
            )));
        }
        map.insert(name.clone(), Value::String(value.clone()));
    }
    Ok(map)
}

/// The result of [`ProxyRequestBuilder::submit`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ProxyOutcome {
    /// The backend made the call.
    Completed(ProxyResponse),
    /// The call waits for an approver's decision.
    ApprovalRequired(PendingApproval),
}

/// A proxy call waiting for approval.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingApproval {
    /// The approval id: pass it to [`Vault::wait_for_approval`].
    pub approval_id: String,
    /// The group of approvals this call needs.
    pub approval_group_id: String,
    /// Where an approver decides.
    pub approval_url: String,
    /// How long the approval stays open.
    pub expires_in: Duration,
    /// When the approval expires, as an RFC 3339 timestamp.
    pub expires_at: String,
    /// Each approval the call needs, at least one.
    pub gates: Vec<ApprovalGate>,
}

/// The provider's response to a proxied call.
#[derive(Clone)]
pub struct ProxyResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    body_truncated: bool,
    duration: Option<Duration>,
    credential_hint: Option<String>,
    approval_id: Option<String>,
}

impl ProxyResponse {
    /// Returns the provider's HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Returns the provider's response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Returns the body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// Consumes the response and returns its body.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// Returns whether the backend cut the body short because it was too large.
    pub fn body_truncated(&self) -> bool {
        self.body_truncated
    }

    /// Returns how long the provider call took, as the backend measured it.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Returns the backend's explanation of a 401 or 403 that it attributes to calling the
    /// wrong API surface rather than to a bad credential, e.g. a key sent in the header shape
    /// of another API of the same provider. `None` on success and for other rejections.
    pub fn credential_hint(&self) -> Option<&str> {
        self.credential_hint.as_deref()
    }

    /// Returns the id of the approval this call waited for, if it needed one.
    pub fn approval_id(&self) -> Option<&str> {
        self.approval_id.as_deref()
    }

    /// Returns the body as text.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Decode`] when the body is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::Decode(format!("the provider response is not UTF-8 text: {e}")))
    }

    /// Deserializes the body as JSON.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Decode`] when the body is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Decode(format!(
                "the provider response is not the expected JSON: {e}"
            ))
        })
    }
}

impl fmt::Debug for ProxyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("body_truncated", &self.body_truncated)
            .field("approval_id", &self.approval_id)
            .finish_non_exhaustive()
    }
}

/// Parses the result object of a proxied call, from `/sdk/proxy` or an approval's result.
pub(crate) fn parse_result(endpoint: &'static str, body: &[u8]) -> Result<ProxyResponse, Error> {
    let malformed = |reason: &str| Error::malformed(endpoint, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let status = object
        .get("status_code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| malformed("`status_code` must be an HTTP status code"))?;
    let headers = match object.get("headers") {
        None | Some(Value::Null) => HeaderMap::new(),
        Some(Value::Object(headers)) => response_headers(headers),
        Some(_) => return Err(malformed("`headers` must be an object")),
    };
    let body = match object.get("body_b64") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(encoded)) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map(Bytes::from)
            .map_err(|_| malformed("`body_b64` is not standard base64"))?,
        Some(_) => return Err(malformed("`body_b64` must be a string")),
    };
    let body_truncated = match object.get("body_truncated") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(malformed("`body_truncated` must be a boolean")),
    };
    let duration = match object.get("duration_ms") {
        None | Some(Value::Null) => None,
        Some(value) => Some(Duration::from_millis(value.as_u64().ok_or_else(|| {
            malformed("`duration_ms` must be an integer of at least 0")
        })?)),
    };
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned)
    };
    Ok(ProxyResponse {
        status,
        headers,
        body,
        body_truncated,
        duration,
        credential_hint: text("credential_hint"),
        approval_id: text("approval_id"),
    })
}

/// Converts the result's `headers` object; a value may be a string or a list of strings.
/// Names or values that are not valid HTTP are dropped, because the call already happened.
fn response_headers(headers: &Map<String, Value>) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let values: Vec<&str> = match value {
            Value::String(text) => vec![text],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for text in values {
            if let Ok(value) = HeaderValue::from_str(text) {
                map.append(name.clone(), value);
            }
        }
    }
    map
}

/// Parses a 202 response of `/sdk/proxy`.
pub(crate) fn parse_pending(body: &[u8]) -> Result<PendingApproval, Error> {
    let malformed = |reason: &str| Error::malformed(PROXY_PATH, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    if object.get("status").and_then(Value::as_str) != Some("pending") {
        return Err(malformed("a 202 answer must have `status` `pending`"));
    }
    let uuid = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|id| is_canonical_uuid(id))
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("`{key}` must be a lower-case hyphenated UUID")))
    };
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("`{key}` must be a non-empty string")))
    };
    let expires_in = object
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("`expires_in` must be an integer of at least 0"))?;
    let gates = parse_gates(object.get("gates")).map_err(|reason| malformed(&reason))?;
    if gates.is_empty() {
        return Err(malformed("`gates` must list at least one approval"));
    }
    Ok(PendingApproval {
        approval_id: uuid("approval_id")?,
        approval_group_id: uuid("approval_group_id")?,
        approval_url: text("approval_url")?,
        expires_in: Duration::from_secs(expires_in),
        expires_at: text("expires_at")?,
        gates,
    })
}

/// Maps an error response of a proxy or approval endpoint: a body (or its FastAPI `detail`)
/// whose `error` is an approval code becomes [`Error::Approval`], anything else the usual
/// typed backend error.
pub(crate) fn map_proxy_error(reply: &Reply) -> Error {
    let mapped = map_error_response(reply.status.as_u16(), &reply.headers, &reply.body);
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&reply.body) else {
        return mapped;
    };
    let body = match body.get("detail") {
        Some(Value::Object(detail)) => detail.clone(),
        _ => body,
    };
    let kind = match body.get("error").and_then(Value::as_str) {
        // A 404 would otherwise read as a missing grant.
        Some("approval_not_found") => {
            return mapped.backend().cloned().map_or(mapped, Error::Backend);
        }
        Some("approval_denied") => ApprovalErrorKind::Denied,
        Some("approval_expired") => ApprovalErrorKind::Expired,
        Some("approval_execution_failed") => ApprovalErrorKind::ExecutionFailed,
        _ => return mapped,
    };
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned)
    };
    let message = text("message")
        .or_else(|| text("decision_reason"))
        .or_else(|| text("execution_error"))
        .unwrap_or_else(|| "the backend gave no reason".to_owned());
    Error::Approval(ApprovalError {
        kind,
        approval_id: text("approval_id"),
        message,
        backend: mapped.backend().cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const APPROVAL: &str = "0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21";
    const GROUP: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn result_decodes_body_and_headers() {
        let response = parse_result(
            PROXY_PATH,
            br#"{"status_code":201,"headers":{"content-type":"application/json","x-multi":["a","b"],"bad name":"x"},"body_b64":"eyJvayI6dHJ1ZX0=","body_truncated":false,"duration_ms":12,"credential_hint":" ","approval_id":null}"#,
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.text().unwrap(), r#"{"ok":true}"#);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers().get_all("x-multi").iter().count(), 2);
        assert_eq!(response.headers().len(), 3);
        assert_eq!(response.duration(), Some(Duration::from_millis(12)));
        assert_eq!(response.credential_hint(), None, "a blank hint is dropped");
        assert_eq!(response.approval_id(), None);
    }

    #[test]
    fn result_shape_errors() {
        let cases: [&[u8]; 7] = [
            b"[]",
            br#"{}"#,
            br#"{"status_code":99}"#,
            br#"{"status_code":"200"}"#,
            br#"{"status_code":200,"body_b64":"@@"}"#,
            br#"{"status_code":200,"body_truncated":"no"}"#,
            br#"{"status_code":200,"duration_ms":-1}"#,
        ];
        for body in cases {
            assert!(
                matches!(
                    parse_result(PROXY_PATH, body),
                    Err(Error::MalformedResponse { .. })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn pending_requires_every_field() {
        let body = format!(
            r#"{{"approval_id":"{APPROVAL}","approval_group_id":"{GROUP}","status":"pending","expires_at":"2026-01-01T00:00:00Z","expires_in":600,"approval_url":"https://a.example/x","gates":[{{"approval_id":"{APPROVAL}","expires_in":600}}]}}"#
        );
        let pending = parse_pending(body.as_bytes()).unwrap();
        assert_eq!(pending.approval_id, APPROVAL);
        assert_eq!(pending.gates.len(), 1);
        assert_eq!(pending.expires_in, Duration::from_secs(600));

        for broken in [
            body.replace(r#""status":"pending""#, r#""status":"approved""#),
            body.replace(APPROVAL, "not-a-uuid"),
            body.replace(
                r#""approval_url":"https://a.example/x""#,
                r#""approval_url":"""#,
            ),
            body.replace(
                &format!(r#"[{{"approval_id":"{APPROVAL}","expires_in":600}}]"#),
                "[]",
            ),
        ] {
            assert!(parse_pending(broken.as_bytes()).is_err(), "{broken}");
        }
    }

    #[test]
    fn approval_error_codes_are_typed() {
        let denied = map_proxy_error(&reply(
            403,
            &format!(
                r#"{{"error":"approval_denied","message":"not today","approval_id":"{APPROVAL}"}}"#
            ),
        ));
        let Error::Approval(approval) = &denied else {
            panic!("expected an approval error, got {denied:?}");
        };
        assert_eq!(approval.kind, ApprovalErrorKind::Denied);
        assert_eq!(approval.approval_id.as_deref(), Some(APPROVAL));
        assert_eq!(approval.message, "not today");
        assert_eq!(denied.status(), Some(403));

        let expired = map_proxy_error(&reply(410, r#"{"detail":{"error":"approval_expired"}}"#));
        assert!(matches!(
            expired,
            Error::Approval(ApprovalError {
                kind: ApprovalErrorKind::Expired,
                ..
            })
        ));
        let failed = map_proxy_error(&reply(
            502,
            r#"{"error":"approval_execution_failed","execution_error":"boom"}"#,
        ));
        assert!(failed.to_string().contains("boom"), "{failed}");

        let other = map_proxy_error(&reply(404, r#"{"error":"grant_not_found"}"#));
        assert!(matches!(other, Error::GrantNotFound(_)), "{other:?}");
    }

    #[test]
    fn unique_map_rejects_duplicates() {
        let pairs = vec![("Accept".into(), "a".into()), ("accept".into(), "b".into())];
        assert!(unique_map("header", &pairs, true).is_err());
        assert_eq!(unique_map("query", &pairs, false).unwrap().len(), 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_result(PROXY_PATH, &body);
            let _ = parse_pending(&body);
            let _ = map_proxy_error(&reply(400, &String::from_utf8_lossy(&body)));
        }

        #[test]
        fn result_parser_never_panics_on_json(
            status in any::<i64>(),
            body_b64 in "[A-Za-z0-9+/=]{0,16}",
            header in "\\PC{0,12}",
            duration in any::<i64>(),
        ) {
            let body = json!({
                "status_code": status,
                "headers": { header.clone(): header },
                "body_b64": body_b64,
                "duration_ms": duration,
            });
            let _ = parse_result(PROXY_PATH, &serde_json::to_vec(&body).unwrap());
        }
    }
}
