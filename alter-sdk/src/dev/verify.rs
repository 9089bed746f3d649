//! Signature verification for every `/sdk/*` request.
//!
//! The checks run in this order, and the first failure returns 401 with its own `error` code:
//!
//! 1. the `x-api-key` is one DevVault minted;
//! 2. the four signature headers are present;
//! 3. the timestamp is within five minutes of DevVault's clock;
//! 4. the nonce is 32 lower-case hex characters;
//! 5. the content hash is the SHA-256 of the bytes received;
//! 6. the signature verifies over the canonical form of the raw path and query as received;
//! 7. a replayed `X-Alter-Actor-ID` is the key's own.
//!
//! A malformed `X-Alter-Caller-Type` or `X-Alter-Context` then gets 400. Only after all of this
//! is the nonce remembered, so forged requests cannot fill the nonce cache. A second use of the
//! nonce within the window is rejected, and a full cache gets 503 with `Retry-After`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::clock::unix_now;
use super::errors::ApiError;
use super::keys::KeyEntry;
use super::server::DevState;
use super::wire::{self, code};
use crate::protocol::api_key::KeyType;
use crate::protocol::signing::{
    ACTOR_ID_HEADER, CALLER_HEADER, CALLER_TYPE_HEADER, CONTENT_SHA256_HEADER, CONTEXT_HEADER,
    NONCE_HEADER, REQUEST_RULE_HEADER, RequestToSign, SCOPE_CONSTRAINTS_HEADER, SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER, SignedIdentity, TIMESTAMP_HEADER, content_sha256,
};

const API_KEY_HEADER: &str = "x-api-key";

/// The signer of a request that passed verification, read by handlers from the request
/// extensions.
#[derive(Clone, Debug)]
pub(super) struct SignedCaller {
    /// The type of the key that signed.
    pub(super) key_type: KeyType,
    /// The managed agent of the agent key that signed, if it belongs to one.
    pub(super) agent_id: Option<Uuid>,
    /// `X-Alter-Caller`, when sent.
    pub(super) caller: Option<String>,
    /// `X-Alter-Caller-Type`, when sent.
    pub(super) caller_type: Option<String>,
    /// `X-Alter-Context`, parsed, when sent.
    pub(super) context: Option<Map<String, Value>>,
}

/// Verifies the signature of every request under `/sdk/`, then passes it on with its body and
/// a [`SignedCaller`] extension. Every response to a known key carries the key's
/// `X-Alter-Actor-ID`.
pub(super) async fn require_signature(
    State(state): State<Arc<DevState>>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with(wire::SDK_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let entry = match find_key(&state, &parts.headers) {
        Ok(entry) => entry,
        Err(error) => return reject(&parts, error),
    };
    let actor_id = HeaderValue::from_str(&entry.actor_id.to_string())
        .expect("a hyphenated UUID is a valid header value");

    let mut response = match read_and_verify(&state, &entry, parts, body).await {
        Ok(request) => next.run(request).await,
        Err((parts, error)) => reject(&parts, error),
    };
    response.headers_mut().insert(ACTOR_ID_HEADER, actor_id);
    response
}

async fn read_and_verify(
    state: &DevState,
    entry: &KeyEntry,
    parts: Parts,
    body: Body,
) -> Result<Request, (Parts, ApiError)> {
    let body = match axum::body::to_bytes(body, wire::MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let error = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body could not be read or exceeds {} bytes",
                    wire::MAX_BODY_BYTES
                ),
            );
            return Err((parts, error));
        }
    };
    let caller = match verify(state, entry, &parts, &body) {
        Ok(caller) => caller,
        Err(error) => return Err((parts, error)),
    };
    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(caller);
    Ok(request)
}

fn reject(parts: &Parts, error: ApiError) -> Response {
    tracing::debug!(
        target: "alter::dev::verify",
        method = %parts.method,
        path = parts.uri.path(),
        status = error.status().as_u16(),
        code = error.code(),
        "rejected a signed request"
    );
    error.into_response()
}

fn find_key(state: &DevState, headers: &HeaderMap) -> Result<KeyEntry, ApiError> {
    let Some(value) = headers.get(API_KEY_HEADER) else {
        return Err(ApiError::unauthorized(
            code::INVALID_KEY,
            "missing x-api-key header; send an API key minted by this DevVault",
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|key| state.keys.get(key))
        .ok_or_else(|| {
            ApiError::unauthorized(
                code::INVALID_KEY,
                "invalid API key: this DevVault did not mint it; use the key it printed at \
                 start-up or one from DevVault::mint_api_key",
            )
            .with(
                "hint",
                "keys are valid only for the DevVault instance that minted them",
            )
        })
}

fn verify(
    state: &DevState,
    entry: &KeyEntry,
    parts: &Parts,
    body: &Bytes,
) -> Result<SignedCaller, ApiError> {
    let headers = &parts.headers;
    let timestamp_text = required_header(headers, TIMESTAMP_HEADER)?;
    let nonce_text = required_header(headers, NONCE_HEADER)?;
    let claimed_hash = required_header(headers, CONTENT_SHA256_HEADER)?;
    let signature = required_header(headers, SIGNATURE_HEADER)?;

    let now = unix_now();
    let timestamp = parse_timestamp(timestamp_text)?;
    if timestamp.abs_diff(now) > wire::MAX_CLOCK_SKEW_SECS {
        return Err(ApiError::unauthorized(
            code::STALE_TIMESTAMP,
            format!(
                "{TIMESTAMP_HEADER} {timestamp} is {} seconds from the server clock ({now}); \
                 the limit is {} seconds, so sign with the current time",
                timestamp.abs_diff(now),
                wire::MAX_CLOCK_SKEW_SECS
            ),
        ));
    }
    let nonce = parse_nonce(nonce_text)?;

    let actual_hash = content_sha256(body);
    if claimed_hash != actual_hash {
        return Err(ApiError::unauthorized(
            code::CONTENT_HASH_MISMATCH,
            format!(
                "{CONTENT_SHA256_HEADER} does not match the SHA-256 of the {} body bytes \
                 received; hash exactly the bytes you send",
                body.len()
            ),
        ));
    }

    let identity = SignedIdentity {
        caller: optional_header(headers, CALLER_HEADER)?,
        caller_type: optional_header(headers, CALLER_TYPE_HEADER)?,
        actor_id: optional_header(headers, ACTOR_ID_HEADER)?,
        actor_context: optional_header(headers, CONTEXT_HEADER)?,
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |path_and_query| path_and_query.as_str());
    let to_sign = RequestToSign {
        method: parts.method.as_str(),
        path_and_query,
        body,
        timestamp,
        nonce: nonce_text,
        scope_constraints: optional_header(headers, SCOPE_CONSTRAINTS_HEADER)?.unwrap_or(""),
        request_rule: optional_header(headers, REQUEST_RULE_HEADER)?.unwrap_or(""),
        identity,
    };
    let strings = to_sign.strings_to_sign(&actual_hash);
    let signature_v2 = optional_header(headers, SIGNATURE_V2_HEADER)?;
    if strings.v2.is_some() && signature_v2.is_none() {
        return Err(ApiError::unauthorized(
            code::INVALID_SIGNATURE,
            format!(
                "identity headers were sent, so both {SIGNATURE_HEADER} and \
                 {SIGNATURE_V2_HEADER} must carry the signature over the v2 string"
            ),
        ));
    }
    if signature_v2.is_some_and(|v2| v2 != signature) {
        return Err(ApiError::unauthorized(
            code::INVALID_SIGNATURE,
            format!("{SIGNATURE_V2_HEADER} must equal {SIGNATURE_HEADER}"),
        ));
    }
    if !entry.signing_key.verify(strings.signed(), signature) {
        let version = if strings.v2.is_some() { "v2" } else { "legacy" };
        return Err(ApiError::unauthorized(
            code::INVALID_SIGNATURE,
            format!(
                "{SIGNATURE_HEADER} does not verify over the {version} string to sign for \
                 {} {}",
                parts.method,
                crate::protocol::signing::canonical_path(path_and_query)
            ),
        ));
    }

    check_actor(entry, identity.actor_id)?;
    let caller = signed_caller(entry, identity)?;
    state.nonces.remember(nonce, timestamp, now)?;
    Ok(caller)
}

fn check_actor(entry: &KeyEntry, actor_id: Option<&str>) -> Result<(), ApiError> {
    let Some(actor_id) = actor_id else {
        return Ok(());
    };
    match Uuid::try_parse(actor_id) {
        Ok(parsed) if parsed == entry.actor_id => Ok(()),
        _ => Err(ApiError::unauthorized(
            code::ACTOR_MISMATCH,
            format!(
                "{ACTOR_ID_HEADER} is not the actor id this DevVault returned for this key; \
                 send back the value of the {ACTOR_ID_HEADER} response header"
            ),
        )),
    }
}

fn signed_caller(entry: &KeyEntry, identity: SignedIdentity<'_>) -> Result<SignedCaller, ApiError> {
    if let Some(caller_type) = identity.caller_type
        && !matches!(caller_type, "agent" | "service")
    {
        return Err(invalid_identity(format!(
            "{CALLER_TYPE_HEADER} must be `agent` or `service`"
        )));
    }
    let context = identity
        .actor_context
        .map(|text| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) if map.values().all(Value::is_string) => Ok(map),
            _ => Err(invalid_identity(format!(
                "{CONTEXT_HEADER} must be a JSON object of string values"
            ))),
        })
        .transpose()?;
    Ok(SignedCaller {
        key_type: entry.key_type,
        agent_id: entry.agent_id,
        caller: identity.caller.map(str::to_owned),
        caller_type: identity.caller_type.map(str::to_owned),
        context,
    })
}

fn invalid_identity(message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code::INVALID_IDENTITY_HEADER,
        message,
    )
}

fn required_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    optional_header(headers, name)?.ok_or_else(|| {
        ApiError::unauthorized(
            code::MISSING_SIGNATURE,
            format!(
                "missing {name} header; every /sdk/ request needs {TIMESTAMP_HEADER}, \
                 {NONCE_HEADER}, {CONTENT_SHA256_HEADER} and {SIGNATURE_HEADER}"
            ),
        )
    })
}

fn optional_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::unauthorized(
                    code::INVALID_SIGNATURE,
                    format!("{name} must be printable ASCII"),
                )
            })
        })
        .transpose()
}

fn parse_timestamp(text: &str) -> Result<u64, ApiError> {
    let digits_only =
        !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    digits_only
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::unauthorized(
                code::INVALID_TIMESTAMP,
                format!(
                    "{TIMESTAMP_HEADER} must be the Unix time in whole seconds, e.g. 1700000000"
                ),
            )
        })
}

fn parse_nonce(text: &str) -> Result<u128, ApiError> {
    let well_formed =
        text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed
        .then(|| u128::from_str_radix(text, 16).ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::unauthorized(
                code::INVALID_NONCE,
                format!("{NONCE_HEADER} must be 16 random bytes as 32 lower-case hex characters"),
            )
        })
}

/// Nonces seen within the clock-skew window.
#[derive(Debug)]
pub(super) struct NonceCache {
    state: Mutex<NonceState>,
    capacity: usize,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::with_capacity(wire::MAX_REMEMBERED_NONCES)
    }
}

#[derive(Debug, Default)]
struct NonceState {
    /// The nonces still remembered.
    seen: HashSet<u128>,
    /// Each remembered nonce with the Unix second after which its timestamp fails the skew
    /// check, earliest first. After that second a replay cannot pass, and the nonce is
    /// forgotten.
    expiry: BinaryHeap<Reverse<(u64, u128)>>,
}

impl NonceState {
    /// Forgets the nonces whose timestamps can no longer pass the skew check. Each nonce is
    /// forgotten once, so a full cache costs no more per request than an empty one.
    fn forget_expired(&mut self, now: u64) {
        while let Some(&Reverse((forget_after, nonce))) = self.expiry.peek() {
            if forget_after >= now {
                break;
            }
            self.expiry.pop();
            self.seen.remove(&nonce);
        }
    }

    /// Returns the seconds until the oldest nonce is forgotten and frees a place.
    fn seconds_until_room(&self, now: u64) -> u64 {
        self.expiry
            .peek()
            .map_or(1, |Reverse((forget_after, _))| forget_after + 1 - now)
    }
}

impl NonceCache {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::default(),
            capacity,
        }
    }

    /// Records `nonce`, signed at `timestamp`; rejects it when it was seen before.
    fn remember(&self, nonce: u128, timestamp: u64, now: u64) -> Result<(), ApiError> {
        let mut state = self.state.lock().expect("nonce cache lock poisoned");
        state.forget_expired(now);
        if state.seen.contains(&nonce) {
            return Err(ApiError::unauthorized(
                code::NONCE_REUSED,
                format!(
                    "{NONCE_HEADER} was already used; generate a fresh random nonce for every \
                     request"
                ),
            ));
        }
        if state.seen.len() >= self.capacity {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::SERVICE_UNAVAILABLE,
                "too many signed requests within the last five minutes; retry shortly",
            )
            .retry_after(state.seconds_until_room(now)));
        }
        state.seen.insert(nonce);
        state
            .expiry
            .push(Reverse((timestamp + wire::MAX_CLOCK_SKEW_SECS, nonce)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_cache_rejects_reuse() {
        let cache = NonceCache::default();
        cache.remember(7, 1_000, 1_000).unwrap();
        let error = cache.remember(7, 1_000, 1_001).unwrap_err();
        assert_eq!(error.code(), code::NONCE_REUSED);
        cache.remember(8, 1_000, 1_001).unwrap();
    }

    #[test]
    fn nonce_cache_forgets_after_window() {
        let cache = NonceCache::default();
        cache.remember(7, 1_000, 1_000).unwrap();
        let later = 1_000 + wire::MAX_CLOCK_SKEW_SECS + 1;
        cache.remember(9, later, later).unwrap();
        let state = cache.state.lock().unwrap();
        assert!(!state.seen.contains(&7));
        assert!(state.seen.contains(&9));
        assert_eq!(state.expiry.len(), 1);
    }

    #[test]
    fn nonce_cache_forgets_by_timestamp_not_arrival() {
        let cache = NonceCache::default();
        cache.remember(1, 2_000, 1_000).unwrap();
        cache.remember(2, 1_000, 1_000).unwrap();
        let after_second = 1_000 + wire::MAX_CLOCK_SKEW_SECS + 1;
        cache.remember(3, after_second, after_second).unwrap();
        let state = cache.state.lock().unwrap();
        assert!(state.seen.contains(&1), "signed later, still replayable");
        assert!(!state.seen.contains(&2));
        assert_eq!(state.seen.len(), state.expiry.len());
    }

    #[test]
    fn full_nonce_cache_rejects_with_retry_after() {
        let cache = NonceCache::with_capacity(2);
        cache.remember(1, 1_000, 1_000).unwrap();
        cache.remember(2, 1_000, 1_000).unwrap();
        let error = cache.remember(3, 1_000, 1_001).unwrap_err();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), code::SERVICE_UNAVAILABLE);
        let response = error.into_response();
        let room = 1_000 + wire::MAX_CLOCK_SKEW_SECS + 1 - 1_001;
        assert_eq!(response.headers()["retry-after"], room.to_string().as_str());

        let replay = cache.remember(1, 1_000, 1_001).unwrap_err();
        assert_eq!(
            replay.code(),
            code::NONCE_REUSED,
            "a full cache still detects replays"
        );

        let later = 1_000 + wire::MAX_CLOCK_SKEW_SECS + 1;
        cache.remember(3, later, later).unwrap();
    }

    #[test]
    fn timestamp_must_be_digits() {
        assert_eq!(parse_timestamp("1700000000").unwrap(), 1_700_000_000);
        for text in [
            "",
            "+1",
            "-1",
            "1.5",
            "1e9",
            " 1",
            "99999999999999999999999",
        ] {
            let error = parse_timestamp(text).unwrap_err();
            assert_eq!(error.code(), code::INVALID_TIMESTAMP, "{text:?}");
        }
    }

    #[test]
    fn nonce_must_be_lower_hex() {
        assert_eq!(
            parse_nonce("00112233445566778899aabbccddeeff").unwrap(),
            0x00112233445566778899aabbccddeeff
        );
        for text in [
            "00112233445566778899AABBCCDDEEFF",
            "00112233445566778899aabbccddeef",
            "+0112233445566778899aabbccddeeff",
            "00112233445566778899aabbccddeefg",
        ] {
            let error = parse_nonce(text).unwrap_err();
            assert_eq!(error.code(), code::INVALID_NONCE, "{text:?}");
        }
    }
}
