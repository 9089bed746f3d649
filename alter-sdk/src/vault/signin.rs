//! Sign-in sessions: the backend's hosted page where an end user signs in with the app's
//! identity provider, and the user token the app receives afterwards.
//!
//! An MCP authorization server uses them to sign a user in: [`Vault::create_auth_session`]
//! returns the page URL, the user opens it, and [`Vault::poll_auth_session`] long-polls until the
//! backend hands over the user token. [`Vault::verify_user_token`] checks a user token with the
//! backend.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::error::{BackendError, Error, SignInError, SignInErrorKind};
use crate::identity::UserToken;
use crate::protocol::error_body::map_error_response;
use crate::protocol::json::to_ascii_vec;

use super::Vault;
use super::backend::{Call, Reply};

const SESSION_PATH: &str = "/sdk/auth/session";
const POLL_PATH: &str = "/sdk/auth/poll";
const VERIFY_PATH: &str = "/sdk/auth/verify-token";
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);
/// The maximum time the backend keeps one poll open.
const MAX_LONG_POLL: Duration = Duration::from_secs(25);
/// Added to a long poll's wait to get its HTTP timeout, so a poll the backend keeps open for the
/// whole wait still gets its response.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(15);

/// A created sign-in session.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthSession {
    /// The token that identifies the session when polling it. Anyone who has it can receive the
    /// user token, so it is kept out of `Debug` output.
    pub session_token: String,
    /// The URL of the hosted sign-in page to send the user to.
    pub auth_url: String,
    /// How long the session stays valid.
    pub expires_in: Duration,
    /// When the session expires, as an RFC 3339 timestamp.
    pub expires_at: String,
}

impl fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSession")
            .field("session_token", &"<redacted>")
            .field("auth_url", &self.auth_url)
            .field("expires_in", &self.expires_in)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One poll's view of a sign-in session.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AuthStatus {
    /// The user has not signed in yet.
    Pending,
    /// The user signed in.
    Completed(SignedInUser),
}

/// The user a sign-in session signed in.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SignedInUser {
    /// The identity provider's token for the user; pass it as the user token of vault calls.
    pub user_token: UserToken,
    /// The backend's report about the user, e.g. `sub` and `email`; empty when it sent
    /// nothing.
    pub user_info: Map<String, Value>,
}

impl Vault {
    /// Creates a sign-in session and returns the URL of its hosted sign-in page.
    ///
    /// The API key needs the `idp_users:write` scope.
    ///
    /// # Errors
    ///
    /// Returns the typed backend error for an error response, and [`Error::MalformedResponse`]
    /// when the backend returns any status but 201 or with a body that lacks a session
    /// field.
    pub async fn create_auth_session(&self) -> Result<AuthSession, Error> {
        let reply = self
            .inner()
            .backend()
            .send(Call::post_json(SESSION_PATH, b"{}".to_vec()))
            .await?;
        if reply.status.as_u16() >= 400 {
            return Err(map_reply_error(&reply));
        }
        if reply.status.as_u16() != 201 {
            return Err(Error::malformed(
                SESSION_PATH,
                format!("expected HTTP 201, got {}", reply.status.as_u16()),
            ));
        }
        parse_session(&reply.body)
    }

    /// Polls a sign-in session once, without holding the request open.
    ///
    /// # Errors
    ///
    /// Returns [`Error::SignIn`] when the session failed or expired, the typed backend error
    /// for an error response, and [`Error::MalformedResponse`] for a response that does not follow
    /// the protocol.
    pub async fn auth_session_status(&self, session_token: &str) -> Result<AuthStatus, Error> {
        poll_once(self, session_token, None)
            .await
            .map_err(PollFailure::into_error)
    }

    /// Polls a sign-in session until the user signs in, the session ends, or the timeout
    /// elapses. Each poll asks the backend to hold the request open for up to 25 seconds, so
    /// the user token arrives as soon as the user signs in.
    pub fn poll_auth_session(&self, session_token: impl Into<String>) -> WaitForSignIn {
        WaitForSignIn {
            vault: self.without_user_token(),
            session_token: session_token.into(),
            timeout: DEFAULT_WAIT_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Asks the backend whether `user_token` is a valid token of the app's identity provider,
    /// and returns the user's subject (`sub`).
    ///
    /// Treat every error as "not verified".
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] for an empty or blank token, without a request;
    /// [`Error::UserTokenRejected`] when the backend rejects the token; the typed backend error
    /// for any other error response, e.g. [`Error::KeyRejected`]; [`Error::MalformedResponse`] when
    /// the response lacks a non-blank `sub`; and [`Error::Network`] or [`Error::Timeout`] when the
    /// request fails.
    pub async fn verify_user_token(&self, user_token: &str) -> Result<String, Error> {
        if user_token.trim().is_empty() {
            return Err(Error::invalid_request(
                "the user token to verify is empty; pass the token the user presented",
            ));
        }
        let body = encode(&json!({ "token": user_token }))?;
        let reply = self
            .inner()
            .backend()
            .send(Call::post_json(VERIFY_PATH, body))
            .await?;
        match reply.status.as_u16() {
            200 => parse_subject(&reply.body),
            401 => Err(match map_reply_error(&reply) {
                Error::Backend(backend) => Error::UserTokenRejected(backend),
                other => other,
            }),
            status if status >= 400 => Err(map_reply_error(&reply)),
            status => Err(Error::malformed(
                VERIFY_PATH,
                format!("expected HTTP 200, got {status}"),
            )),
        }
    }
}

/// Polls a sign-in session until it ends; created by [`Vault::poll_auth_session`].
///
/// Await it directly. Network failures, timeouts and statuses other than 200, 400, 401, 403,
/// 404 and 422 are retried until the timeout, because the backend may recover; every other
/// error ends the wait.
#[derive(Debug)]
#[must_use = "await it to poll the session"]
pub struct WaitForSignIn {
    vault: Vault,
    session_token: String,
    timeout: Duration,
    poll_interval: Duration,
}

impl WaitForSignIn {
    /// Sets how long to wait in total. Defaults to 300 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the pause between polls. Defaults to 2 seconds.
    /// Intervals under 10 milliseconds are raised to 10 milliseconds.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(super::MIN_POLL_INTERVAL);
        self
    }

    async fn run(self) -> Result<SignedInUser, Error> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = long_poll_wait(remaining);
            match poll_once(&self.vault, &self.session_token, wait).await {
                Ok(AuthStatus::Completed(user)) => return Ok(user),
                Ok(AuthStatus::Pending) => {}
                Err(PollFailure::Transient(error)) => tracing::debug!(
                    target: "alter::signin",
                    %error,
                    "sign-in poll failed; retrying until the deadline"
                ),
                Err(PollFailure::Permanent(error)) => return Err(error),
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::SignIn(SignInError::new(
                    SignInErrorKind::TimedOut,
                    Some("poll_deadline_elapsed".into()),
                    "the user did not sign in before the deadline",
                )));
            }
            tokio::time::sleep(self.poll_interval.min(remaining)).await;
        }
    }
}

impl IntoFuture for WaitForSignIn {
    type Output = Result<SignedInUser, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Returns the long-poll wait for a poll with `remaining` budget: the budget capped at 25
/// seconds, in whole milliseconds, or none when less than a millisecond is left.
fn long_poll_wait(remaining: Duration) -> Option<Duration> {
    let millis = u64::try_from(remaining.min(MAX_LONG_POLL).as_millis()).unwrap_or(0);
    (millis > 0).then(|| Duration::from_millis(millis))
}

/// Why one poll failed: worth retrying before the deadline, or final.
#[derive(Debug)]
enum PollFailure {
    Transient(Error),
    Permanent(Error),
}

impl PollFailure {
    fn into_error(self) -> Error {
        match self {
            Self::Transient(error) | Self::Permanent(error) => error,
        }
    }
}

async fn poll_once(
    vault: &Vault,
    session_token: &str,
    wait: Option<Duration>,
) -> Result<AuthStatus, PollFailure> {
    if session_token.is_empty() {
        return Err(PollFailure::Permanent(Error::invalid_request(
            "the sign-in session token is empty",
        )));
    }
    let body = match wait {
        Some(wait) => {
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            json!({ "session_token": session_token, "wait_ms": wait_ms })
        }
        None => json!({ "session_token": session_token }),
    };
    let mut call = Call::post_json(POLL_PATH, encode(&body).map_err(PollFailure::Permanent)?);
    call.timeout = wait.map(|wait| {
        let client_timeout = vault.inner().provider_timeout();
        (wait + LONG_POLL_MARGIN).max(client_timeout)
    });
    let reply = match vault.inner().backend().send(call).await {
        Ok(reply) => reply,
        Err(error @ (Error::Network { .. } | Error::Timeout { .. })) => {
            return Err(PollFailure::Transient(error));
        }
        Err(error) => return Err(PollFailure::Permanent(error)),
    };
    match reply.status.as_u16() {
        200 => parse_status(&reply.body).map_err(PollFailure::Permanent),
        400 | 401 | 403 | 404 | 422 => Err(PollFailure::Permanent(map_reply_error(&reply))),
        status if status >= 400 => Err(PollFailure::Transient(map_reply_error(&reply))),
        status => Err(PollFailure::Transient(Error::malformed(
            POLL_PATH,
            format!("expected HTTP 200, got {status}"),
        ))),
    }
}

fn map_reply_error(reply: &Reply) -> Error {
    map_error_response(reply.status.as_u16(), &reply.headers, &reply.body)
}

fn encode(value: &Value) -> Result<Vec<u8>, Error> {
    to_ascii_vec(value).map_err(|e| Error::invalid_request(format!("failed to encode: {e}")))
}

/// Parses the response to `POST /sdk/auth/session`.
pub(crate) fn parse_session(body: &[u8]) -> Result<AuthSession, Error> {
    let malformed = |reason: &str| Error::malformed(SESSION_PATH, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("`{key}` must be a non-empty string")))
    };
    let expires_in = object
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("`expires_in` must be an integer of at least 0"))?;
    Ok(AuthSession {
        session_token: text("session_token")?,
        auth_url: text("auth_url")?,
        expires_in: Duration::from_secs(expires_in),
        expires_at: text("expires_at")?,
    })
}

/// Parses a 200 response to `POST /sdk/auth/poll`.
pub(crate) fn parse_status(body: &[u8]) -> Result<AuthStatus, Error> {
    let malformed = |reason: &str| Error::malformed(POLL_PATH, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let status = object
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("`status` must be a non-empty string"))?;
    match status {
        "pending" => Ok(AuthStatus::Pending),
        "completed" => {
            let user_token = object
                .get("user_token")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| malformed("a completed session lacks a non-empty `user_token`"))?;
            let user_info = match object.get("user_info") {
                Some(Value::Object(info)) => info.clone(),
                _ => Map::new(),
            };
            Ok(AuthStatus::Completed(SignedInUser {
                user_token: UserToken::from(user_token),
                user_info,
            }))
        }
        "error" => Err(status_error(object)),
        "expired" => Err(Error::SignIn(SignInError::new(
            SignInErrorKind::Expired,
            Some("session_expired".into()),
            "the sign-in session expired before the user signed in; create a new one",
        ))),
        other => Err(malformed(&format!(
            "unexpected sign-in session status `{}`",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

/// Maps an `error` status: a backend outage or identity-provider conflict becomes the
/// matching backend error, anything else a failed sign-in.
fn status_error(object: &Map<String, Value>) -> Error {
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let code = text("error_code");
    let message = text("error_message").unwrap_or_else(|| "unknown error".into());
    match code.as_deref() {
        Some("service_unavailable") => {
            let mut backend = BackendError::new(503, code, message);
            if let Some(seconds) = object.get("retry_after_seconds").and_then(Value::as_u64) {
                backend
                    .details
                    .insert("retry_after_seconds".into(), Value::from(seconds));
            }
            Error::Backend(backend)
        }
        Some("identity_provider_inactive" | "identity_group_name_ambiguous") => {
            Error::Backend(BackendError::new(409, code, message))
        }
        _ => Error::SignIn(SignInError::new(SignInErrorKind::Failed, code, message)),
    }
}

/// Parses a 200 response to `POST /sdk/auth/verify-token`.
pub(crate) fn parse_subject(body: &[u8]) -> Result<String, Error> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(|value| value.get("sub"))
        .and_then(Value::as_str)
        .filter(|sub| !sub.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::malformed(VERIFY_PATH, "the response lacks a non-blank `sub`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn session_requires_every_field() {
        let session = parse_session(
            br#"{"session_token":"as_1","auth_url":"https://a.example/s","expires_in":600,"expires_at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(session.session_token, "as_1");
        assert_eq!(session.expires_in, Duration::from_secs(600));
        let cases: [&[u8]; 5] = [
            b"[]",
            br#"{"session_token":"s","auth_url":"u","expires_in":1}"#,
            br#"{"session_token":"","auth_url":"u","expires_in":1,"expires_at":"t"}"#,
            br#"{"session_token":"s","auth_url":"u","expires_in":"1","expires_at":"t"}"#,
            br#"{"session_token":"s","auth_url":"u","expires_in":1.0,"expires_at":"t"}"#,
        ];
        for body in cases {
            assert!(
                matches!(parse_session(body), Err(Error::MalformedResponse { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn session_debug_hides_token() {
        let session = parse_session(
            br#"{"session_token":"as_secret","auth_url":"https://a.example/s","expires_in":6,"expires_at":"t"}"#,
        )
        .unwrap();
        let debug = format!("{session:?}");
        assert!(!debug.contains("as_secret"), "{debug}");
        assert!(debug.contains("https://a.example/s"), "{debug}");
    }

    #[test]
    fn completed_status_carries_token_and_info() {
        let status = parse_status(
            br#"{"status":"completed","user_token":"eyJ.jwt","user_info":{"sub":"u1"}}"#,
        )
        .unwrap();
        let AuthStatus::Completed(user) = status else {
            panic!("expected completed, got {status:?}");
        };
        assert_eq!(user.user_token.expose_secret(), "eyJ.jwt");
        assert_eq!(user.user_info["sub"], "u1");
        assert!(!format!("{user:?}").contains("eyJ.jwt"));

        let without_info =
            parse_status(br#"{"status":"completed","user_token":"t","user_info":[1]}"#).unwrap();
        let AuthStatus::Completed(user) = without_info else {
            panic!("expected completed");
        };
        assert!(user.user_info.is_empty());
    }

    #[test]
    fn error_statuses_are_typed() {
        let failed = parse_status(
            br#"{"status":"error","error_code":"access_denied","error_message":"the user cancelled"}"#,
        )
        .unwrap_err();
        let Error::SignIn(sign_in) = &failed else {
            panic!("expected a sign-in error, got {failed:?}");
        };
        assert_eq!(sign_in.kind, SignInErrorKind::Failed);
        assert_eq!(failed.code(), Some("access_denied"));
        assert_eq!(sign_in.message, "the user cancelled");

        let unknown = parse_status(br#"{"status":"error"}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown error"), "{unknown}");

        let unavailable = parse_status(
            br#"{"status":"error","error_code":"service_unavailable","error_message":"later","retry_after_seconds":3}"#,
        )
        .unwrap_err();
        assert_eq!(unavailable.status(), Some(503));
        assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(3)));

        let inactive = parse_status(
            br#"{"status":"error","error_code":"identity_provider_inactive","error_message":"off"}"#,
        )
        .unwrap_err();
        assert_eq!(inactive.status(), Some(409));

        let expired = parse_status(br#"{"status":"expired"}"#).unwrap_err();
        assert!(matches!(
            expired,
            Error::SignIn(SignInError {
                kind: SignInErrorKind::Expired,
                ..
            })
        ));
    }

    #[test]
    fn status_shape_errors() {
        let cases: [&[u8]; 6] = [
            b"",
            b"[]",
            br#"{"status":""}"#,
            br#"{"status":7}"#,
            br#"{"status":"completed"}"#,
            br#"{"status":"sideways"}"#,
        ];
        for body in cases {
            assert!(
                matches!(parse_status(body), Err(Error::MalformedResponse { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn subject_must_be_non_blank() {
        assert_eq!(parse_subject(br#"{"sub":"user-1"}"#).unwrap(), "user-1");
        for body in [&b"{}"[..], br#"{"sub":"  "}"#, br#"{"sub":1}"#, b"nope"] {
            assert!(parse_subject(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn long_poll_wait_is_capped_and_truncated() {
        assert_eq!(
            long_poll_wait(Duration::from_secs(60)),
            Some(Duration::from_secs(25))
        );
        assert_eq!(
            long_poll_wait(Duration::from_micros(9_999_999)),
            Some(Duration::from_millis(9_999))
        );
        assert_eq!(long_poll_wait(Duration::from_micros(999)), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_session(&body);
            let _ = parse_status(&body);
            let _ = parse_subject(&body);
        }

        #[test]
        fn status_parser_never_panics_on_json(
            status in prop_oneof![
                Just("pending".to_owned()),
                Just("completed".to_owned()),
                Just("error".to_owned()),
                Just("expired".to_owned()),
                "\\PC{0,12}",
            ],
            token in proptest::option::of("\\PC{0,8}"),
            code in proptest::option::of("\\PC{0,8}"),
            retry in proptest::option::of(any::<i64>()),
        ) {
            let body = json!({
                "status": status,
                "user_token": token,
                "error_code": code,
                "error_message": "m",
                "retry_after_seconds": retry,
            });
            let _ = parse_status(&serde_json::to_vec(&body).unwrap());
        }
    }
}
