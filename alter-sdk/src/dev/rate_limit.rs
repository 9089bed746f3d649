//! Optional rate limiting of the signed `/sdk/*` endpoints, per API key, in fixed windows.
//!
//! When a policy is set, every signed response carries the rate-limit headers, and a request
//! over the limit gets HTTP 429 with `Retry-After` and the backend's body:
//! `{"error": "rate_limit_exceeded", "scope": "api_key", "limit", "window_seconds",
//! "retry_after", "message"}`. Requests are counted after their signature verified, so
//! rejected requests do not use up a key's budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::clock::unix_now;
use super::errors::ApiError;
use super::server::DevState;
use super::wire;

const API_KEY_HEADER: &str = "x-api-key";
const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";

/// How many signed requests each API key may send per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitPolicy {
    /// Requests allowed per window, at least 1.
    pub requests: u32,
    /// The window length, in whole seconds, at least one second.
    pub window: Duration,
    /// The header style that reports the limit.
    pub headers: RateLimitHeaders,
}

impl RateLimitPolicy {
    /// Allows `requests` per `window`, reported with `X-RateLimit-*` headers.
    pub fn new(requests: u32, window: Duration) -> Self {
        Self {
            requests,
            window,
            headers: RateLimitHeaders::XRateLimit,
        }
    }

    /// Reports the limit with the IETF draft's `RateLimit-Policy` and `RateLimit` headers
    /// instead.
    #[must_use]
    pub fn with_draft_headers(mut self) -> Self {
        self.headers = RateLimitHeaders::Draft;
        self
    }

    /// Lists what is wrong with the policy, if anything.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.requests == 0 {
            problems.push("the rate limit must allow at least 1 request per window".to_owned());
        }
        if self.window.as_secs() == 0 || self.window.subsec_nanos() != 0 {
            problems.push(format!(
                "the rate-limit window must be a whole number of seconds, at least 1, got {:?}",
                self.window
            ));
        }
        problems
    }
}

/// The header style that reports a rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitHeaders {
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds).
    XRateLimit,
    /// `RateLimit-Policy: "default";q=LIMIT;w=WINDOW` and
    /// `RateLimit: "default";r=REMAINING;t=SECONDS_TO_RESET`.
    Draft,
}

/// The policy in force and each key's current window.
#[derive(Debug, Default)]
pub(super) struct RateLimiter {
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    policy: Option<RateLimitPolicy>,
    /// Actor id of the key → (window start in Unix seconds, requests counted in it).
    windows: HashMap<Uuid, (u64, u32)>,
}

/// One counted request: whether it is allowed, and the values the headers report.
struct Decision {
    policy: RateLimitPolicy,
    allowed: bool,
    remaining: u32,
    reset_at: u64,
    now: u64,
}

impl RateLimiter {
    /// Creates a limiter enforcing `policy`, or nothing.
    pub(super) fn new(policy: Option<RateLimitPolicy>) -> Self {
        Self {
            state: Mutex::new(LimiterState {
                policy,
                windows: HashMap::new(),
            }),
        }
    }

    /// Replaces the policy and starts every key's window afresh.
    pub(super) fn set(&self, policy: Option<RateLimitPolicy>) {
        let mut state = self.lock();
        state.policy = policy;
        state.windows.clear();
    }

    fn count(&self, actor_id: Uuid) -> Option<Decision> {
        let now = unix_now();
        let mut state = self.lock();
        let policy = state.policy?;
        let window = policy.window.as_secs().max(1);
        let (start, used) = state.windows.entry(actor_id).or_insert((now, 0));
        if now >= start.saturating_add(window) {
            *start = now;
            *used = 0;
        }
        let allowed = *used < policy.requests;
        if allowed {
            *used += 1;
        }
        Some(Decision {
            policy,
            allowed,
            remaining: policy.requests - *used,
            reset_at: start.saturating_add(window),
            now,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().expect("rate limiter lock poisoned")
    }
}

/// Counts every signed request against its key's window, returns 429 over the limit, and
/// adds the rate-limit headers. Runs after signature verification.
pub(super) async fn enforce(
    State(state): State<Arc<DevState>>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with(wire::SDK_PREFIX) {
        return next.run(request).await;
    }
    let actor_id = request
        .headers()
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|key| state.keys.get(key))
        .map(|entry| entry.actor_id);
    let Some(decision) = actor_id.and_then(|actor_id| state.rate_limiter.count(actor_id)) else {
        return next.run(request).await;
    };

    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        let retry_after = decision.reset_at.saturating_sub(decision.now).max(1);
        tracing::debug!(
            target: "alter::dev::rate_limit",
            path = request.uri().path(),
            retry_after,
            "rejected a request over the rate limit"
        );
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMIT_EXCEEDED,
            format!(
                "this API key sent more than {} requests in {} seconds; retry after {retry_after} \
                 seconds",
                decision.policy.requests,
                decision.policy.window.as_secs()
            ),
        )
        .with("scope", "api_key")
        .with("limit", decision.policy.requests)
        .with("window_seconds", decision.policy.window.as_secs())
        .with("retry_after", retry_after)
        .retry_after(retry_after)
        .into_response()
    };
    add_headers(response.headers_mut(), &decision);
    response
}

fn add_headers(headers: &mut HeaderMap, decision: &Decision) {
    let policy = decision.policy;
    match policy.headers {
        RateLimitHeaders::XRateLimit => {
            headers.insert("x-ratelimit-limit", HeaderValue::from(policy.requests));
            headers.insert(
                "x-ratelimit-remaining",
                HeaderValue::from(decision.remaining),
            );
            headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_at));
        }
        RateLimitHeaders::Draft => {
            let policy_value = format!(
                r#""default";q={};w={}"#,
                policy.requests,
                policy.window.as_secs()
            );
            let state_value = format!(
                r#""default";r={};t={}"#,
                decision.remaining,
                decision.reset_at.saturating_sub(decision.now)
            );
            for (name, value) in [
                ("ratelimit-policy", policy_value),
                ("ratelimit", state_value),
            ] {
                if let Ok(value) = HeaderValue::try_from(value) {
                    headers.insert(name, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_allows_then_rejects() {
        let limiter = RateLimiter::new(Some(RateLimitPolicy::new(2, Duration::from_secs(3600))));
        let key = Uuid::new_v4();
        let first = limiter.count(key).unwrap();
        assert!(first.allowed);
        assert_eq!(first.remaining, 1);
        assert!(limiter.count(key).unwrap().allowed);
        let third = limiter.count(key).unwrap();
        assert!(!third.allowed);
        assert_eq!(third.remaining, 0);
        assert!(
            limiter.count(Uuid::new_v4()).unwrap().allowed,
            "keys are counted apart"
        );
    }

    #[test]
    fn set_replaces_policy_and_windows() {
        let limiter = RateLimiter::new(Some(RateLimitPolicy::new(1, Duration::from_secs(60))));
        let key = Uuid::new_v4();
        limiter.count(key);
        assert!(!limiter.count(key).unwrap().allowed);
        limiter.set(Some(RateLimitPolicy::new(1, Duration::from_secs(60))));
        assert!(limiter.count(key).unwrap().allowed);
        limiter.set(None);
        assert!(limiter.count(key).is_none());
    }

    #[test]
    fn policy_problems() {
        assert!(
            RateLimitPolicy::new(1, Duration::from_secs(1))
                .problems()
                .is_empty()
        );
        assert_eq!(
            RateLimitPolicy::new(0, Duration::from_millis(1500))
                .problems()
                .len(),
            2
        );
    }
}
