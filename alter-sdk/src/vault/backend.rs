//! Signed calls to the Alter backend.
//!
//! Every call carries the API key and the HMAC signature headers. Calls that act for a
//! principal ("actor headers") also carry the cached actor id and the audit context, and both
//! are bound into the signature.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, StatusCode};

use crate::error::Error;
use crate::protocol::api_key::ApiKey;
use crate::protocol::base_url::BaseUrl;
use crate::protocol::error_body::map_error_response;
use crate::protocol::rate_limit::{RateLimitSnapshot, parse_rate_limit};
use crate::protocol::signing::{
    self, ACTOR_ID_HEADER, CALLER_HEADER, CALLER_TYPE_HEADER, CONTENT_SHA256_HEADER,
    CONTEXT_HEADER, NONCE_HEADER, REQUEST_RULE_HEADER, RequestToSign, SCOPE_CONSTRAINTS_HEADER,
    SIGNATURE_HEADER, SIGNATURE_V2_HEADER, SignedIdentity, SigningKey, TIMESTAMP_HEADER,
};

use super::CallerType;
use super::trace::{TRACEPARENT_HEADER, current_traceparent};
use super::transport::{HttpTransport, TransportError};

/// The `User-Agent` this SDK sends to the backend and to providers.
pub(crate) const SDK_USER_AGENT: &str = concat!("alter-sdk-rust/", env!("CARGO_PKG_VERSION"));

const API_KEY_HEADER: &str = "x-api-key";
const KEY_DEPRECATED_HEADER: &str = "x-alter-key-deprecated";

/// One backend call.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    /// The SDK path with its query, e.g. `/sdk/token`.
    pub(crate) path: &'a str,
    /// JSON body bytes, already encoded exactly as they will be hashed.
    pub(crate) body: Option<Vec<u8>>,
    /// Whether to send the actor id and the audit context.
    pub(crate) actor_headers: bool,
    /// The encoded `X-Alter-Context` value, sent only with actor headers.
    pub(crate) context: Option<&'a str>,
    /// A longer timeout for long polls.
    pub(crate) timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    /// Creates a POST with a JSON body and actor headers, the shape of most SDK calls.
    pub(crate) fn post_json(path: &'a str, body: Vec<u8>) -> Self {
        Self {
            method: Method::POST,
            path,
            body: Some(body),
            actor_headers: true,
            context: None,
            timeout: None,
        }
    }

    /// Creates a GET without a body, with actor headers.
    pub(crate) fn get(path: &'a str) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
            actor_headers: true,
            context: None,
            timeout: None,
        }
    }
}

/// A backend response with its body buffered.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Fixed values for everything random or time-dependent, so tests can reproduce recorded
/// requests byte for byte.
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct FixedSigning {
    pub(crate) timestamp: u64,
    pub(crate) nonce: String,
    pub(crate) correlation_id: String,
}

pub(crate) struct Backend {
    transport: Arc<dyn HttpTransport>,
    base_url: BaseUrl,
    api_key: ApiKey,
    signing_key: SigningKey,
    default_headers: HeaderMap,
    caller: Option<String>,
    caller_type: CallerType,
    actor_id: OnceLock<String>,
    timeout: Duration,
    deprecation_warned: AtomicBool,
    rate_limit: Mutex<Option<RateLimitSnapshot>>,
    /// The comma-joined scope constraint bound into every signature, or empty.
    scope_constraints: String,
    /// The base64url request rule bound into every signature, or empty.
    request_rule: String,
    #[cfg(test)]
    pub(crate) fixed_signing: Option<FixedSigning>,
}

impl Backend {
    pub(crate) fn new(
        transport: Arc<dyn HttpTransport>,
        api_key: ApiKey,
        base_url: BaseUrl,
        caller: Option<String>,
        caller_type: CallerType,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let mut default_headers = HeaderMap::new();
        let key_value = HeaderValue::from_str(api_key.expose_secret())
            .map_err(|_| Error::config("the API key is not a valid header value"))?;
        default_headers.insert(API_KEY_HEADER, sensitive(key_value));
        default_headers.insert(USER_AGENT, HeaderValue::from_static(SDK_USER_AGENT));
        if let Some(caller) = &caller {
            let value = HeaderValue::from_str(caller)
                .map_err(|_| Error::config("the caller is not a valid header value"))?;
            default_headers.insert(CALLER_HEADER, value);
            default_headers.insert(
                CALLER_TYPE_HEADER,
                HeaderValue::from_static(caller_type.as_str()),
            );
        }
        Ok(Self {
            transport,
            signing_key: SigningKey::derive(api_key.expose_secret()),
            api_key,
            base_url,
            default_headers,
            caller,
            caller_type,
            actor_id: OnceLock::new(),
            timeout,
            deprecation_warned: AtomicBool::new(false),
            rate_limit: Mutex::new(None),
            scope_constraints: String::new(),
            request_rule: String::new(),
            #[cfg(test)]
            fixed_signing: None,
        })
    }

    /// Returns a client that shares this one's connections and signing key and binds the scope
    /// constraint and request rule into every signature. It starts with this client's cached
    /// actor id and caches its own from then on.
    pub(crate) fn constrained(&self, scope_constraints: String, request_rule: String) -> Self {
        let actor_id = OnceLock::new();
        if let Some(cached) = self.actor_id.get() {
            let _ = actor_id.set(cached.clone());
        }
        Self {
            transport: Arc::clone(&self.transport),
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            signing_key: self.signing_key.clone(),
            default_headers: self.default_headers.clone(),
            caller: self.caller.clone(),
            caller_type: self.caller_type,
            actor_id,
            timeout: self.timeout,
            deprecation_warned: AtomicBool::new(false),
            rate_limit: Mutex::new(None),
            scope_constraints,
            request_rule,
            #[cfg(test)]
            fixed_signing: self.fixed_signing.clone(),
        }
    }

    /// Returns whether this client binds a scope constraint or request rule.
    pub(crate) fn is_constrained(&self) -> bool {
        !self.scope_constraints.is_empty() || !self.request_rule.is_empty()
    }

    pub(crate) fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    pub(crate) fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    #[cfg(test)]
    pub(crate) fn caller(&self) -> Option<&str> {
        self.caller.as_deref()
    }

    #[cfg(test)]
    pub(crate) fn caller_type(&self) -> CallerType {
        self.caller_type
    }

    #[cfg(test)]
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a signed call and returns the response whatever its status.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Reply, Error> {
        let body = call.body.unwrap_or_default();
        let actor_id = if call.actor_headers {
            self.actor_id.get().map(String::as_str)
        } else {
            None
        };
        let context = call.context.filter(|_| call.actor_headers);

        let (timestamp, nonce) = self.signing_inputs();
        let signature = self.signing_key.sign_request(&RequestToSign {
            method: call.method.as_str(),
            path_and_query: call.path,
            body: &body,
            timestamp,
            nonce: &nonce,
            scope_constraints: &self.scope_constraints,
            request_rule: &self.request_rule,
            identity: SignedIdentity {
                caller: self.caller.as_deref(),
                caller_type: self.caller.as_ref().map(|_| self.caller_type.as_str()),
                actor_id,
                actor_context: context,
            },
        });

        let mut headers = self.default_headers.clone();
        if let Some(actor_id) = actor_id {
            insert(&mut headers, ACTOR_ID_HEADER, actor_id)?;
        }
        if let Some(context) = context {
            insert(&mut headers, CONTEXT_HEADER, context)?;
        }
        insert(&mut headers, TIMESTAMP_HEADER, &signature.timestamp)?;
        insert(&mut headers, NONCE_HEADER, &signature.nonce)?;
        insert(
            &mut headers,
            CONTENT_SHA256_HEADER,
            &signature.content_sha256,
        )?;
        insert(&mut headers, SIGNATURE_HEADER, &signature.signature)?;
        if signature.v2 {
            insert(&mut headers, SIGNATURE_V2_HEADER, &signature.signature)?;
        }
        if !self.scope_constraints.is_empty() {
            insert(
                &mut headers,
                SCOPE_CONSTRAINTS_HEADER,
                &self.scope_constraints,
            )?;
        }
        if !self.request_rule.is_empty() {
            insert(&mut headers, REQUEST_RULE_HEADER, &self.request_rule)?;
        }
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(traceparent) = current_traceparent() {
            headers.insert(TRACEPARENT_HEADER, traceparent);
        }

        let mut request = http::Request::builder()
            .method(call.method)
            .uri(self.base_url.join(call.path))
            .body(Bytes::from(body))
            .map_err(|e| Error::invalid_request(format!("invalid backend request: {e}")))?;
        *request.headers_mut() = headers;

        let timeout = call.timeout.unwrap_or(self.timeout);
        tracing::trace!(target: "alter::backend", path = call.path, "sending backend request");
        let response = self
            .transport
            .send(request, timeout)
            .await
            .map_err(|e| transport_error(e, "the Alter backend".to_owned(), timeout))?;
        let (parts, body) = response.into_parts();
        tracing::trace!(
            target: "alter::backend",
            path = call.path,
            status = parts.status.as_u16(),
            "backend answered"
        );
        self.observe(&parts.headers, call.actor_headers);
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a signed call and maps any response with status 400 or above to its typed error.
    pub(crate) async fn send_checked(&self, call: Call<'_>) -> Result<Reply, Error> {
        let reply = self.send(call).await?;
        if reply.status.as_u16() >= 400 {
            return Err(map_error_response(
                reply.status.as_u16(),
                &reply.headers,
                &reply.body,
            ));
        }
        Ok(reply)
    }

    /// Returns the rate limit reported by the most recent backend response that reported one.
    pub(crate) fn last_rate_limit(&self) -> Option<RateLimitSnapshot> {
        self.rate_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the response headers the client tracks: the actor id (first valid one wins), the
    /// key deprecation flag (warned about once per client) and the rate-limit snapshot.
    fn observe(&self, headers: &HeaderMap, actor_headers: bool) {
        if let Some(snapshot) = parse_rate_limit(headers, SystemTime::now()) {
            *self
                .rate_limit
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
        }
        if let Some(actor_id) = headers.get(ACTOR_ID_HEADER).and_then(|v| v.to_str().ok()) {
            let canonical = is_canonical_uuid(&actor_id.to_ascii_lowercase());
            match self.actor_id.get() {
                None if canonical && actor_headers => {
                    let _ = self.actor_id.set(actor_id.to_owned());
                }
                Some(cached) if cached != actor_id => tracing::debug!(
                    target: "alter::backend",
                    "backend sent a different actor id; keeping the first one"
                ),
                _ => {}
            }
        }
        let deprecated = headers
            .get(KEY_DEPRECATED_HEADER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        if deprecated && !self.deprecation_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "alter::backend",
                "the backend reports this API key as deprecated; rotate it before it stops working"
            );
        }
    }

    #[cfg(test)]
    pub(crate) fn fixed_signing(&self) -> Option<&FixedSigning> {
        self.fixed_signing.as_ref()
    }

    fn signing_inputs(&self) -> (u64, String) {
        #[cfg(test)]
        if let Some(fixed) = &self.fixed_signing {
            return (fixed.timestamp, fixed.nonce.clone());
        }
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (timestamp, signing::new_nonce())
    }
}

/// Turns a transport failure into a typed error naming the destination.
pub(crate) fn transport_error(error: TransportError, target: String, timeout: Duration) -> Error {
    match error {
        TransportError::Timeout => Error::Timeout { target, timeout },
        TransportError::Network(source) => Error::Network { target, source },
    }
}

/// Returns whether `value` is a UUID in canonical form: lower-case hex, hyphenated 8-4-4-4-12.
pub(crate) fn is_canonical_uuid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), Error> {
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_request(format!("the value for {name} is not a valid header"))
    })?;
    // `from_bytes` lower-cases the protocol's mixed-case names.
    let name = HeaderName::from_bytes(name.as_bytes()).expect("protocol header names are valid");
    headers.insert(name, value);
    Ok(())
}

fn sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}
