//! Failures a test can switch on: a signed endpoint returns a chosen status, headers and body
//! instead of its normal response, to show how a client copes with responses the real backend
//! sends only under load, on misconfiguration or for features DevVault lacks.
//!
//! A fault replaces the handler, not the signature check: [`inject`] runs after the request
//! was authenticated, so an unsigned or badly signed request still gets its signature error,
//! and a request the fault answers changes no state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::server::DevState;
use super::wire::{self, code};
use crate::error::Error;

/// A response DevVault sends in place of an endpoint's normal one.
///
/// ```
/// use alter::dev::Fault;
/// use serde_json::json;
///
/// let fault = Fault::json(429, json!({"error": "quota_exceeded", "retry_after": 86400}))
///     .header("Retry-After", "60");
/// let html = Fault::raw(503, "<html>maintenance</html>").header("Content-Type", "text/html");
/// # let _ = (fault, html);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fault {
    /// Creates a fault with `status` and `body` serialized as JSON, sent with
    /// `Content-Type: application/json`.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Creates a fault with `status` and `body` sent as it is, with
    /// `Content-Type: text/plain; charset=utf-8` unless [`Fault::header`] sets another.
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![(
                "content-type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            )],
            body: body.into(),
        }
    }

    /// Adds a response header. A header of the same name (in any case) set before is replaced,
    /// so this also overrides the default `Content-Type`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// Returns the status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Returns the headers, in the order they are sent.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Returns the body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Checks the status and headers, and returns the response they make.
    fn into_armed(self) -> Result<ArmedResponse, Error> {
        let status = StatusCode::from_u16(self.status)
            .ok()
            .filter(|status| !status.is_informational())
            .ok_or_else(|| {
                Error::invalid_request(format!(
                    "fault status {} is not a final HTTP status; use 200 to 999",
                    self.status
                ))
            })?;
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                Error::invalid_request(format!("fault header name {name:?} is not a valid name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::invalid_request(format!(
                    "the value of fault header {name} is not a valid header value; remove \
                     control characters and non-ASCII text"
                ))
            })?;
            headers.push((name, value));
        }
        Ok(ArmedResponse {
            status,
            headers,
            body: self.body.into(),
        })
    }
}

/// How many requests a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultRepeat {
    /// The next this many requests; later ones get their normal response. `Next(0)` disarms
    /// the endpoint's fault.
    Next(u32),
    /// Every request until [`DevVault::clear_fault`](super::DevVault::clear_fault).
    Always,
}

/// When `POST /sdk/token` returns HTTP 409 `token_refresh_in_progress`, as the backend does
/// while another request is refreshing the same grant's provider token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRefreshConflicts {
    /// Never: requests get their normal response.
    #[default]
    Off,
    /// The next this many requests get 409, and later ones their normal response.
    Next(u32),
    /// Every request gets 409.
    Always,
}

/// Returns the 409 body the backend sends while it refreshes a grant's provider token. DevVault's
/// fault responds before any grant is resolved, so the body names no `grant_id`.
pub(super) fn token_refresh_conflict() -> Fault {
    Fault::json(
        409,
        json!({
            "error": code::TOKEN_REFRESH_IN_PROGRESS,
            "message": "the provider token of this grant is being refreshed; retry shortly",
        }),
    )
}

/// The switched-on faults, by endpoint path.
#[derive(Debug, Default)]
pub(super) struct Faults {
    endpoints: Mutex<HashMap<String, EndpointFault>>,
}

/// The fault of one endpoint and how often it was served since it was set.
#[derive(Debug)]
struct EndpointFault {
    response: Option<Arc<ArmedResponse>>,
    remaining: Option<u32>,
    served: u64,
}

/// A validated fault response.
#[derive(Debug)]
struct ArmedResponse {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: axum::body::Bytes,
}

impl ArmedResponse {
    fn to_response(&self) -> Response {
        let mut response = (self.status, Body::from(self.body.clone())).into_response();
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        response
    }
}

impl Faults {
    /// Arms `fault` on `endpoint`, replacing any fault there, and resets its served count.
    pub(super) fn set(
        &self,
        endpoint: &str,
        fault: Fault,
        repeat: FaultRepeat,
    ) -> Result<(), Error> {
        check_endpoint(endpoint)?;
        let response = fault.into_armed()?;
        let (response, remaining) = match repeat {
            FaultRepeat::Next(0) => (None, None),
            FaultRepeat::Next(count) => (Some(Arc::new(response)), Some(count)),
            FaultRepeat::Always => (Some(Arc::new(response)), None),
        };
        self.lock().insert(
            endpoint.to_owned(),
            EndpointFault {
                response,
                remaining,
                served: 0,
            },
        );
        Ok(())
    }

    /// Disarms the fault of `endpoint` and resets its served count.
    pub(super) fn clear(&self, endpoint: &str) {
        self.lock().remove(endpoint);
    }

    /// Disarms every fault.
    pub(super) fn clear_all(&self) {
        self.lock().clear();
    }

    /// Returns the response for a request to `path` when a fault is armed there, and counts
    /// it.
    fn take(&self, path: &str) -> Option<Arc<ArmedResponse>> {
        let mut endpoints = self.lock();
        let fault = endpoints.get_mut(path)?;
        let response = Arc::clone(fault.response.as_ref()?);
        match &mut fault.remaining {
            Some(1) => {
                fault.remaining = None;
                fault.response = None;
            }
            Some(left) => *left -= 1,
            None => {}
        }
        fault.served += 1;
        Some(response)
    }

    /// Returns how many requests to `endpoint` the fault responded to since it was set.
    pub(super) fn served(&self, endpoint: &str) -> u64 {
        self.lock().get(endpoint).map_or(0, |fault| fault.served)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, EndpointFault>> {
        self.endpoints.lock().expect("fault switch lock poisoned")
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), Error> {
    if !endpoint.starts_with(wire::SDK_PREFIX) || endpoint.contains(['?', '#']) {
        return Err(Error::invalid_request(format!(
            "fault endpoint {endpoint:?} must be the path of a signed endpoint, such as \
             \"/sdk/token\", without a query"
        )));
    }
    Ok(())
}

/// Sends the armed fault's response in place of the handler's for a request to its endpoint.
/// Runs after the signature check, so only authenticated requests reach it.
pub(super) async fn inject(
    State(state): State<Arc<DevState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(response) = state.faults.take(request.uri().path()) else {
        return next.run(request).await;
    };
    tracing::debug!(
        target: "alter::dev::faults",
        method = %request.method(),
        path = request.uri().path(),
        status = response.status.as_u16(),
        "responded with a switched-on fault"
    );
    response.to_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served_statuses(faults: &Faults, path: &str, requests: usize) -> Vec<Option<u16>> {
        (0..requests)
            .map(|_| faults.take(path).map(|response| response.status.as_u16()))
            .collect()
    }

    #[test]
    fn next_count_then_clears() {
        let faults = Faults::default();
        faults
            .set(
                "/sdk/token",
                Fault::json(503, json!({})),
                FaultRepeat::Next(2),
            )
            .unwrap();
        assert_eq!(
            served_statuses(&faults, "/sdk/token", 3),
            [Some(503), Some(503), None]
        );
        assert_eq!(faults.served("/sdk/token"), 2);
    }

    #[test]
    fn always_applies_until_cleared() {
        let faults = Faults::default();
        faults
            .set(
                "/sdk/proxy",
                Fault::json(500, json!({})),
                FaultRepeat::Always,
            )
            .unwrap();
        assert_eq!(served_statuses(&faults, "/sdk/proxy", 5), [Some(500); 5]);
        assert_eq!(faults.served("/sdk/proxy"), 5);
        faults.clear("/sdk/proxy");
        assert_eq!(served_statuses(&faults, "/sdk/proxy", 1), [None]);
        assert_eq!(faults.served("/sdk/proxy"), 0);
    }

    #[test]
    fn fault_applies_only_to_endpoint() {
        let faults = Faults::default();
        faults
            .set(
                "/sdk/token",
                Fault::json(409, json!({})),
                FaultRepeat::Always,
            )
            .unwrap();
        assert_eq!(served_statuses(&faults, "/sdk/proxy", 1), [None]);
        assert_eq!(served_statuses(&faults, "/sdk/token/", 1), [None]);
        assert_eq!(faults.served("/sdk/proxy"), 0);
    }

    #[test]
    fn next_zero_disarms() {
        let faults = Faults::default();
        faults
            .set(
                "/sdk/token",
                Fault::json(409, json!({})),
                FaultRepeat::Always,
            )
            .unwrap();
        faults
            .set(
                "/sdk/token",
                Fault::json(409, json!({})),
                FaultRepeat::Next(0),
            )
            .unwrap();
        assert_eq!(served_statuses(&faults, "/sdk/token", 1), [None]);
    }

    #[test]
    fn invalid_faults_are_rejected() {
        let faults = Faults::default();
        let cases = [
            ("/dev/users/x/token", Fault::json(500, json!({}))),
            ("/sdk/token?x=1", Fault::json(500, json!({}))),
            ("/sdk/token", Fault::json(100, json!({}))),
            ("/sdk/token", Fault::json(1000, json!({}))),
            (
                "/sdk/token",
                Fault::json(500, json!({})).header("bad name", "x"),
            ),
            (
                "/sdk/token",
                Fault::json(500, json!({})).header("x-a", "line\nbreak"),
            ),
        ];
        for (endpoint, fault) in cases {
            let result = faults.set(endpoint, fault.clone(), FaultRepeat::Always);
            assert!(
                matches!(result, Err(Error::InvalidRequest(_))),
                "{endpoint} {fault:?}: {result:?}"
            );
        }
        assert_eq!(served_statuses(&faults, "/sdk/token", 1), [None]);
    }

    #[test]
    fn header_replaces_same_name_and_keeps_order() {
        let fault = Fault::raw(429, "<html>slow down</html>")
            .header("Retry-After", "00060")
            .header("Content-Type", "text/html");
        assert_eq!(
            fault.headers(),
            [
                ("Retry-After".to_owned(), "00060".to_owned()),
                ("Content-Type".to_owned(), "text/html".to_owned()),
            ]
        );
        assert_eq!(fault.body(), b"<html>slow down</html>");
    }
}
