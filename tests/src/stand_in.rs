//! Stand-in servers for the vault client's robustness tests.
//!
//! [`StandIn`] is a real HTTP/1.1 server (axum) on `127.0.0.1:0` that responds to each path the
//! way a test scripts it: any status, headers and body, including bodies that are not JSON, or no
//! response at all ([`Reply::Hang`]). It records every request it receives, so a test can assert
//! what the vault client sent, and that it sent nothing when a local check failed. One instance
//! plays the Alter backend ([`StandIn::backend`]) and another the provider API
//! ([`StandIn::provider`]).
//!
//! A [`Gate`] delays scripted responses until the test opens it, and
//! [`Received::has_valid_signature`] checks a request's HMAC signature the way the backend does.
//!
//! [`RawServer`] reads each request head and then closes the connection without responding, or
//! sends a response head and never the body.
//!
//! [`fixtures`] holds the API key, tokens and token response the tests share. Every secret
//! there is a distinctive canary string, so a test can search logs and `Debug` output for it.

pub mod fixtures;
mod raw;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use alter::protocol::signing::{
    ACTOR_ID_HEADER, CALLER_HEADER, CALLER_TYPE_HEADER, CONTENT_SHA256_HEADER, CONTEXT_HEADER,
    NONCE_HEADER, REQUEST_RULE_HEADER, RequestToSign, SCOPE_CONSTRAINTS_HEADER, SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER, SignedIdentity, SigningKey, TIMESTAMP_HEADER, content_sha256,
};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub use raw::RawServer;

/// The largest request body the stand-in reads, in bytes.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How a stand-in responds to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Responds with this status, these headers and this body.
    Answer {
        /// The response status.
        status: StatusCode,
        /// The response headers, in order.
        headers: Vec<(HeaderName, HeaderValue)>,
        /// The response body, sent as is.
        body: Bytes,
    },
    /// Never responds: the handler waits until the client gives up and closes the connection.
    Hang,
    /// Waits until `gate` opens, then responds with `reply`.
    Gated {
        /// The gate to wait for.
        gate: Gate,
        /// The reply sent once the gate opens.
        reply: Box<Reply>,
    },
}

/// A gate that delays [`Reply::Gated`] responses until the test opens it, so a test can keep
/// requests in flight for as long as it needs without timing anything.
#[derive(Clone, Debug)]
pub struct Gate(Arc<Semaphore>);

impl Gate {
    /// Creates a closed gate.
    pub fn new() -> Self {
        Self(Arc::new(Semaphore::new(0)))
    }

    /// Opens the gate for every request held now and later.
    pub fn open(&self) {
        // A closed semaphore fails every pending and future `acquire` at once, which is what
        // releases the waiting handlers.
        self.0.close();
    }

    async fn pass(&self) {
        let _ = self.0.acquire().await;
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Reply {
    /// Responds with `status` and `body` as JSON.
    ///
    /// # Panics
    ///
    /// Panics when `status` is not a valid HTTP status code.
    pub fn json(status: u16, body: &Value) -> Self {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        Self::raw(status, "application/json", body)
    }

    /// Responds with `status`, `body` and the given `Content-Type`.
    ///
    /// # Panics
    ///
    /// Panics when `status` is not a valid HTTP status code or `content_type` is not a valid
    /// header value.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self::empty(status)
            .with_header("content-type", content_type)
            .with_body(body)
    }

    /// Responds with `status` and no body.
    ///
    /// # Panics
    ///
    /// Panics when `status` is not a valid HTTP status code.
    pub fn empty(status: u16) -> Self {
        Self::Answer {
            status: StatusCode::from_u16(status).expect("a valid HTTP status"),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a response header.
    ///
    /// # Panics
    ///
    /// Panics when the name or value is invalid, or when called on a reply that is not an
    /// [`Reply::Answer`].
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let Self::Answer { headers, .. } = &mut self else {
            panic!("only an answer has headers");
        };
        headers.push((
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(value).expect("a valid header value"),
        ));
        self
    }

    /// Delays this reply until `gate` opens.
    #[must_use]
    pub fn gated(self, gate: &Gate) -> Self {
        Self::Gated {
            gate: gate.clone(),
            reply: Box::new(self),
        }
    }

    /// Replaces the response body.
    ///
    /// # Panics
    ///
    /// Panics when called on a reply that is not an [`Reply::Answer`].
    #[must_use]
    pub fn with_body(mut self, new_body: impl Into<Bytes>) -> Self {
        let Self::Answer { body, .. } = &mut self else {
            panic!("only an answer has a body");
        };
        *body = new_body.into();
        self
    }
}

/// One request a stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request method.
    pub method: Method,
    /// The path exactly as sent, still percent-encoded.
    pub path: String,
    /// The query string exactly as sent, without the `?`.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Bytes,
    /// When the stand-in received the request.
    pub at: Instant,
}

impl Received {
    /// Parses the body as JSON.
    ///
    /// # Panics
    ///
    /// Panics, naming the path, when the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body sent to {} is not JSON: {e}", self.path))
    }

    /// Returns the body as text.
    ///
    /// # Panics
    ///
    /// Panics, naming the path, when the body is not UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body)
            .unwrap_or_else(|e| panic!("the body sent to {} is not UTF-8: {e}", self.path))
    }

    /// Returns the value of the header `name` as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Returns whether the request carries a valid signature for `api_key`, checked the way
    /// the backend checks it: the string to sign is rebuilt from the method, path, query, body
    /// and the signature and identity headers received.
    pub fn has_valid_signature(&self, api_key: &str) -> bool {
        let (Some(timestamp), Some(nonce), Some(signature)) = (
            self.header(TIMESTAMP_HEADER).and_then(|t| t.parse().ok()),
            self.header(NONCE_HEADER),
            self.header(SIGNATURE_HEADER),
        ) else {
            return false;
        };
        let path_and_query = match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        };
        let caller = self.header(CALLER_HEADER);
        let request = RequestToSign {
            method: self.method.as_str(),
            path_and_query: &path_and_query,
            body: &self.body,
            timestamp,
            nonce,
            scope_constraints: self.header(SCOPE_CONSTRAINTS_HEADER).unwrap_or_default(),
            request_rule: self.header(REQUEST_RULE_HEADER).unwrap_or_default(),
            identity: SignedIdentity {
                caller,
                caller_type: caller.and(self.header(CALLER_TYPE_HEADER)),
                actor_id: self.header(ACTOR_ID_HEADER),
                actor_context: self.header(CONTEXT_HEADER),
            },
        };
        let strings = request.strings_to_sign(&content_sha256(&self.body));
        let key = SigningKey::derive(api_key);
        let v2_matches = match (&strings.v2, self.header(SIGNATURE_V2_HEADER)) {
            (Some(_), Some(v2)) => v2 == signature,
            (None, None) => true,
            _ => false,
        };
        v2_matches
            && self.header(CONTENT_SHA256_HEADER) == Some(content_sha256(&self.body).as_str())
            && key.verify(strings.signed(), signature)
    }
}

/// What the server task and the test share.
struct Shared {
    /// Scripted replies by path. The front reply is used for the next request, and the last one
    /// stays to be used for every request after it.
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// The reply for paths without a script.
    fallback: Reply,
    received: Mutex<Vec<Received>>,
}

impl Shared {
    fn next_reply(&self, path: &str) -> Reply {
        let mut scripts = lock(&self.scripts);
        let Some(queue) = scripts.get_mut(path) else {
            return self.fallback.clone();
        };
        if queue.len() > 1 {
            queue
                .pop_front()
                .expect("the queue has more than one reply")
        } else {
            queue
                .front()
                .cloned()
                .unwrap_or_else(|| self.fallback.clone())
        }
    }
}

/// A scripted HTTP server on `127.0.0.1` that records every request.
///
/// The server runs as a task on the current tokio runtime and stops when the value is dropped.
pub struct StandIn {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl StandIn {
    /// Starts a stand-in Alter backend.
    ///
    /// `/sdk/token` returns [`fixtures::token_response`], and the audit endpoint and the
    /// scope-mismatch report for [`fixtures::GRANT_ID`] return 204. Every other path returns
    /// 404 with a JSON error body until a test scripts it.
    pub async fn backend() -> Self {
        let fallback = Reply::json(
            404,
            &serde_json::json!({
                "error": "not_found",
                "message": "the stand-in backend has no script for this path",
            }),
        );
        let backend = Self::start(fallback).await;
        backend.script(
            fixtures::TOKEN_PATH,
            Reply::json(200, &fixtures::token_response()),
        );
        backend.script(fixtures::AUDIT_PATH, Reply::empty(204));
        backend.script(&fixtures::scope_report_path(), Reply::empty(204));
        backend
    }

    /// Starts a stand-in provider API that returns 200 and `{"ok":true}` for every path until a
    /// test scripts it.
    pub async fn provider() -> Self {
        Self::start(Reply::json(200, &serde_json::json!({ "ok": true }))).await
    }

    /// Starts a stand-in that responds with `fallback` to paths without a script.
    ///
    /// # Panics
    ///
    /// Panics when no port can be bound on `127.0.0.1`.
    pub async fn start(fallback: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port on 127.0.0.1");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            scripts: Mutex::default(),
            fallback,
            received: Mutex::default(),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the stand-in server runs until it is dropped");
        });
        Self {
            address,
            shared,
            task,
        }
    }

    /// Returns the base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns the URL of `path` on this server.
    pub fn url_of(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Returns the port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Responds to every request for `path` with `reply`, replacing any earlier script for it.
    pub fn script(&self, path: &str, reply: Reply) {
        self.script_sequence(path, [reply]);
    }

    /// Responds to requests for `path` with `replies` in order. The last reply is then used for
    /// every request after it.
    ///
    /// # Panics
    ///
    /// Panics when `replies` is empty.
    pub fn script_sequence(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let replies: VecDeque<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "a script needs at least one reply");
        lock(&self.shared.scripts).insert(path.to_owned(), replies);
    }

    /// Returns every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// Returns the requests received so far for `path`, in arrival order.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        lock(&self.shared.received)
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let reply = shared.next_reply(&path);
    lock(&shared.received).push(Received {
        method: parts.method,
        path,
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        at: Instant::now(),
    });

    respond(reply).await
}

async fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            for (name, value) in headers {
                response.headers_mut().append(name, value);
            }
            response
        }
        Reply::Hang => std::future::pending().await,
        Reply::Gated { gate, reply } => {
            gate.pass().await;
            Box::pin(respond(*reply)).await
        }
    }
}

/// Locks `mutex`, ignoring poisoning: a panicking test must not hide what was recorded.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
