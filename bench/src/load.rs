//! A closed-loop HTTP/1.1 load generator.
//!
//! Each connection sends its next request as soon as it has read the previous response, over
//! one keep-alive connection, for a fixed time. The requests that complete within the measured
//! window, after the warm-up, are counted, and their latencies go into an HDR histogram with
//! microsecond resolution.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{AUTHORIZATION, HOST, HeaderMap, HeaderValue};
use http::{Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// The maximum time one request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest latency the histogram records, in microseconds; longer ones are clamped.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// Produces the requests of a load run.
pub trait RequestSource: Send + Sync + 'static {
    /// Builds the next request of `connection`, with an absolute URI.
    fn next_request(&self, connection: usize) -> http::Request<Full<Bytes>>;
}

/// The same request every time, with a bearer token chosen by connection.
#[derive(Debug)]
pub struct FixedRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    bearer_tokens: Vec<HeaderValue>,
}

impl FixedRequest {
    /// Describes the request; connection `i` sends `bearer_tokens[i % len]`, or no
    /// `Authorization` header when the list is empty.
    ///
    /// # Errors
    ///
    /// Returns a message when a token is not a valid header value.
    pub fn new(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        bearer_tokens: &[String],
    ) -> Result<Self, String> {
        let bearer_tokens = bearer_tokens
            .iter()
            .enumerate()
            .map(|(line, token)| {
                let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| format!("token {} is not a valid header value", line + 1))?;
                value.set_sensitive(true);
                Ok(value)
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            method,
            uri,
            headers,
            body,
            bearer_tokens,
        })
    }
}

impl RequestSource for FixedRequest {
    fn next_request(&self, connection: usize) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        if !self.bearer_tokens.is_empty() {
            let token = &self.bearer_tokens[connection % self.bearer_tokens.len()];
            request.headers_mut().insert(AUTHORIZATION, token.clone());
        }
        request
    }
}

/// How long and how wide a load run is.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// The number of connections, each with one request in flight.
    pub connections: usize,
    /// How long requests are sent before measuring starts.
    pub warmup: Duration,
    /// How long requests are measured.
    pub duration: Duration,
}

/// Bytes a successful response body must contain, so that an error the server wraps in a
/// `200` (as a JSON-RPC tool error is) still counts as an error.
pub type Expected = Option<Arc<[u8]>>;

/// The outcome of a load run.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The number of connections.
    pub connections: usize,
    /// Successful responses completed in the measured window.
    pub requests: u64,
    /// Requests that failed in the measured window: status outside 2xx, connection errors and
    /// timeouts.
    pub errors: u64,
    /// The length of the measured window, in seconds.
    pub seconds: f64,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    histogram: Histogram<u64>,
}

impl LoadReport {
    /// Returns the successful responses per second.
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Returns the latency at `quantile` (0 to 1), in microseconds.
    pub fn latency_micros(&self, quantile: f64) -> u64 {
        self.histogram.value_at_quantile(quantile)
    }

    /// Returns the report as one JSON object; latencies are in microseconds.
    pub fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.seconds,
            "rps": self.requests_per_second(),
            "p50_us": self.latency_micros(0.5),
            "p90_us": self.latency_micros(0.9),
            "p99_us": self.latency_micros(0.99),
            "max_us": self.histogram.max(),
            "mean_us": self.histogram.mean(),
            "first_error": self.first_error,
        })
    }
}

/// Sends requests from `source` to `target` over `options.connections` connections.
pub async fn run(
    source: Arc<dyn RequestSource>,
    target: SocketAddr,
    options: LoadOptions,
    expected: Expected,
) -> LoadReport {
    let measure_from = Instant::now() + options.warmup;
    let end = measure_from + options.duration;
    let tasks: Vec<_> = (0..options.connections)
        .map(|connection| {
            let source = Arc::clone(&source);
            let expected = expected.clone();
            tokio::spawn(drive(
                source,
                connection,
                target,
                expected,
                measure_from,
                end,
            ))
        })
        .collect();

    let mut report = LoadReport {
        connections: options.connections,
        requests: 0,
        errors: 0,
        seconds: options.duration.as_secs_f64(),
        first_error: None,
        histogram: new_histogram(),
    };
    for task in tasks {
        let stats = task.await.expect("a load connection panicked");
        report.requests += stats.requests;
        report.errors += stats.errors;
        report
            .histogram
            .add(&stats.histogram)
            .expect("histograms with the same bounds merge");
        if report.first_error.is_none() {
            report.first_error = stats.first_error;
        }
    }
    report
}

/// Opens a keep-alive HTTP/1.1 connection to `target`.
///
/// # Errors
///
/// Returns the connect or handshake error.
pub async fn connect(target: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(target)
        .await
        .map_err(|e| format!("failed to connect to {target}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("failed to set TCP_NODELAY: {e}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {target} failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request and reads the whole response. A status outside 2xx, or a body without
/// `expected`, is an error that leaves the connection usable.
///
/// # Errors
///
/// Returns [`Failure::Status`] with the start of the body, or [`Failure::Connection`] when the
/// connection must be replaced.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    mut request: http::Request<Full<Bytes>>,
    expected: Option<&[u8]>,
) -> Result<(), Failure> {
    to_origin_form(&mut request);
    let exchange = async {
        sender
            .ready()
            .await
            .map_err(|e| Failure::Connection(format!("connection closed: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::Connection(format!("request failed: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Connection(format!("failed to read the body: {e}")))?
            .to_bytes();
        let contains_expected = expected.is_none_or(|expected| {
            body.windows(expected.len())
                .any(|window| window == expected)
        });
        if status.is_success() && contains_expected {
            Ok(())
        } else {
            let start = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            Err(Failure::Status(format!("status {status}: {start}")))
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(Failure::Connection(format!(
                "no response within {REQUEST_TIMEOUT:?}"
            )))
        })
}

/// A failed request.
#[derive(Debug)]
pub enum Failure {
    /// The response had a status outside 2xx or lacked the expected bytes.
    Status(String),
    /// The connection failed and must be replaced.
    Connection(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Self::Status(message) | Self::Connection(message) => message,
        }
    }
}

/// Moves the authority of an absolute URI into `Host` and leaves the path and query, the form
/// every HTTP/1.1 server accepts.
fn to_origin_form(request: &mut http::Request<Full<Bytes>>) {
    if let Some(authority) = request.uri().authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(HOST, host);
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = Uri::try_from(path).expect("a path and query is a valid URI");
}

struct ConnectionStats {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    histogram: Histogram<u64>,
}

impl ConnectionStats {
    fn fail(&mut self, measured: bool, failure: Failure) {
        if measured {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(failure.message());
        }
    }
}

async fn drive(
    source: Arc<dyn RequestSource>,
    connection: usize,
    target: SocketAddr,
    expected: Expected,
    measure_from: Instant,
    end: Instant,
) -> ConnectionStats {
    let mut stats = ConnectionStats {
        requests: 0,
        errors: 0,
        first_error: None,
        histogram: new_histogram(),
    };
    while Instant::now() < end {
        let mut sender = match connect(target).await {
            Ok(sender) => sender,
            Err(message) => {
                let now = Instant::now();
                let measured = now >= measure_from && now <= end;
                stats.fail(measured, Failure::Connection(message));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while Instant::now() < end {
            let request = source.next_request(connection);
            let started = Instant::now();
            let result = send(&mut sender, request, expected.as_deref()).await;
            let completed = Instant::now();
            let measured = completed >= measure_from && completed <= end;
            match result {
                Ok(()) if measured => {
                    let elapsed = completed - started;
                    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                    stats.histogram.saturating_record(micros.max(1));
                    stats.requests += 1;
                }
                Ok(()) => {}
                Err(failure @ Failure::Status(_)) => stats.fail(measured, failure),
                Err(failure @ Failure::Connection(_)) => {
                    stats.fail(measured, failure);
                    break;
                }
            }
        }
    }
    stats
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).expect("the histogram bounds are valid")
}
