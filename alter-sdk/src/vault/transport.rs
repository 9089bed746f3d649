//! The HTTP layer under the vault: one pooled `reqwest` client per destination kind.
//!
//! Requests and responses cross this boundary as `http` types with fully buffered bodies, so the
//! vault logic never depends on the client library and tests can record the exact bytes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

/// A future returned by [`HttpTransport::send`].
pub(crate) type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, TransportError>> + Send + 'a>>;

/// Sends one HTTP request and buffers the whole response.
pub(crate) trait HttpTransport: Send + Sync + 'static {
    fn send(&self, request: http::Request<Bytes>, timeout: Duration) -> SendFuture<'_>;
}

/// Why a request produced no response.
#[derive(Debug)]
pub(crate) enum TransportError {
    Timeout,
    Network(Box<dyn std::error::Error + Send + Sync>),
}

/// The production transport.
pub(crate) struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// Builds a pooled client that never follows redirects, so a credential can never be
    /// forwarded to a host the caller did not name.
    pub(crate) fn new(connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { client })
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
            let body = response
                .bytes()
                .await
                .map_err(|e| classify(e.without_url()))?;
            builder
                .body(body)
                .map_err(|e| TransportError::Network(Box::new(e)))
        })
    }
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
