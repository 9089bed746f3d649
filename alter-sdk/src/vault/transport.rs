//! The HTTP layer under the vault: one pooled `reqwest` client per destination kind.
//!
//! Requests and responses cross this boundary as `http` types with fully buffered bodies, so the
//! vault logic never depends on the client library and tests can record the exact bytes.
//! [`VaultBuilder::transport`](super::VaultBuilder::transport) replaces the `reqwest` clients with
//! any [`HttpTransport`], for tests and benchmarks that respond in process, without sockets.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

/// A future returned by [`HttpTransport::send`].
pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, TransportError>> + Send + 'a>>;

/// Sends one HTTP request and buffers the whole response.
pub trait HttpTransport: Send + Sync + 'static {
    /// Sends `request`, whose URI is absolute, and returns the response with its whole body.
    ///
    /// The transport must not follow redirects, because a redirect could carry an injected
    /// credential to a host the caller did not name. It should give up after `timeout`.
    ///
    /// # Errors
    ///
    /// Returns [`TransportError::Timeout`] when `timeout` passed without a whole response, and
    /// [`TransportError::Network`] when no response could be read.
    fn send(&self, request: http::Request<Bytes>, timeout: Duration) -> SendFuture<'_>;
}

/// The reason a request produced no response.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The request did not complete within its timeout.
    Timeout,
    /// The connection failed or the response could not be read.
    Network(Box<dyn std::error::Error + Send + Sync>),
}

/// A response body longer than the transport reads, carried as the source of
/// [`TransportError::Network`].
#[derive(Debug)]
pub(crate) struct BodyTooLarge {
    pub(crate) max_bytes: usize,
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response body is longer than {} bytes, the maximum read from this server",
            self.max_bytes
        )
    }
}

impl std::error::Error for BodyTooLarge {}

/// The production transport.
pub(crate) struct ReqwestTransport {
    client: reqwest::Client,
    /// The maximum response body size, in bytes; `None` reads bodies of any size.
    max_body_bytes: Option<usize>,
}

impl ReqwestTransport {
    /// Builds a pooled client that never follows redirects, so a credential can never be
    /// forwarded to a host the caller did not name. A response body longer than
    /// `max_body_bytes` fails the request with [`BodyTooLarge`] as soon as it is seen.
    pub(crate) fn new(
        connect_timeout: Duration,
        max_body_bytes: Option<usize>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            client,
            max_body_bytes,
        })
    }
}

impl HttpTransport for ReqwestTransport {
    fn send(&self, request: http::Request<Bytes>, timeout: Duration) -> SendFuture<'_> {
        Box::pin(async move {
            let mut request =
                reqwest::Request::try_from(request).map_err(|e| classify(e.without_url()))?;
            *request.timeout_mut() = Some(timeout);
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| classify(e.without_url()))?;

            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = read_body(response, self.max_body_bytes).await?;
            builder
                .body(body)
                .map_err(|e| TransportError::Network(Box::new(e)))
        })
    }
}

/// Reads the whole body, or fails once it is longer than `max_bytes`.
async fn read_body(
    mut response: reqwest::Response,
    max_bytes: Option<usize>,
) -> Result<Bytes, TransportError> {
    let Some(max_bytes) = max_bytes else {
        return response
            .bytes()
            .await
            .map_err(|e| classify(e.without_url()));
    };
    let too_large = || TransportError::Network(Box::new(BodyTooLarge { max_bytes }));
    if response
        .content_length()
        .is_some_and(|length| length > max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(e.without_url()))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Maps a `reqwest` error whose URL was already removed, because a provider URL can carry an
/// injected credential in its query.
fn classify(error: reqwest::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout
    } else {
        TransportError::Network(Box::new(error))
    }
}
