//! The one retry the client makes on its own: `POST /sdk/token` while the backend is already
//! refreshing the grant's provider token (HTTP 409 `token_refresh_in_progress`).
//!
//! Fetching a credential changes nothing on the backend, so asking again is safe, and the
//! refresh usually finishes within a second. The number of retries is bounded and each waits
//! longer than the one before. Nothing else is retried: not proxy calls, provider calls, audit
//! rows, rate limits (`quota_exceeded` least of all), or any other error, which the caller sees
//! at once and can retry with [`Error::is_retryable`] and [`Error::retry_after`] as a guide.

use std::time::Duration;

use crate::error::Error;
use crate::protocol::error_body::{header_retry_after, map_error_response};

use super::backend::{Backend, Call, Reply};

/// Default number of retries after the first attempt.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default delay before the first retry.
pub(crate) const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// Maximum retries the builder accepts.
pub(crate) const MAX_RETRIES_LIMIT: u32 = 10;
/// Maximum initial delay the builder accepts.
pub(crate) const MAX_INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// A backoff grows to at most this multiple of the initial delay.
const MAX_BACKOFF_FACTOR: u32 = 8;
/// Maximum `Retry-After` a 409 response can make the client wait, in seconds.
const RETRY_AFTER_CAP_SECS: u64 = 30;

const TOKEN_PATH: &str = "/sdk/token";

/// The retry policy of `POST /sdk/token` while a token refresh is in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenRetry {
    pub(crate) max_retries: u32,
    pub(crate) initial_backoff: Duration,
}

impl Default for TokenRetry {
    fn default() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
        }
    }
}

impl TokenRetry {
    /// Returns the delay before retry number `retry` (0 for the first): the initial delay
    /// doubled per retry up to eight times it, with the upper half randomized so that clients
    /// refused together do not retry together. A longer `Retry-After` wins, up to 30 seconds.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let factor = 2u32.saturating_pow(retry).min(MAX_BACKOFF_FACTOR);
        let backoff = self.initial_backoff.saturating_mul(factor);
        let half = backoff / 2;
        let jitter = half.mul_f64(rand::random::<f64>());
        let server = retry_after.unwrap_or_default();
        (half + jitter).max(server.min(Duration::from_secs(RETRY_AFTER_CAP_SECS)))
    }
}

/// Sends `POST /sdk/token` with `body`, retrying while the backend returns
/// `token_refresh_in_progress`, and maps any other error response to its typed error.
pub(crate) async fn post_token_request(
    backend: &Backend,
    policy: TokenRetry,
    body: Vec<u8>,
    context: Option<&str>,
) -> Result<Reply, Error> {
    let mut retry = 0;
    loop {
        let mut call = Call::post_json(TOKEN_PATH, body.clone());
        call.context = context;
        let reply = backend.send(call).await?;
        let status = reply.status.as_u16();
        if status < 400 {
            return Ok(reply);
        }
        let error = map_error_response(status, &reply.headers, &reply.body);
        if !matches!(error, Error::TokenRefreshInProgress(_)) || retry >= policy.max_retries {
            return Err(error);
        }
        let retry_after =
            header_retry_after(&reply.headers, RETRY_AFTER_CAP_SECS).map(Duration::from_secs);
        let delay = policy.delay(retry, retry_after);
        tracing::debug!(
            target: "alter::retry",
            grant_id = error.grant_id().unwrap_or(""),
            retry = retry + 1,
            max_retries = policy.max_retries,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "the backend is refreshing the provider token; retrying the credential request"
        );
        tokio::time::sleep(delay).await;
        retry += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_up_to_eight_times() {
        let policy = TokenRetry {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
        };
        for (retry, full) in [(0, 100), (1, 200), (2, 400), (3, 800), (4, 800), (30, 800)] {
            let delay = policy.delay(retry, None);
            assert!(
                delay >= Duration::from_millis(full / 2),
                "retry {retry}: {delay:?}"
            );
            assert!(
                delay <= Duration::from_millis(full),
                "retry {retry}: {delay:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_up_to_cap() {
        let policy = TokenRetry::default();
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(RETRY_AFTER_CAP_SECS)
        );
    }

    #[test]
    fn zero_backoff_is_zero() {
        let policy = TokenRetry {
            max_retries: 3,
            initial_backoff: Duration::ZERO,
        };
        assert_eq!(policy.delay(2, None), Duration::ZERO);
    }
}
