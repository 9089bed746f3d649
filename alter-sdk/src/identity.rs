//! The end user's identity for the duration of one request.
//!
//! A web handler or MCP tool runs on behalf of the user whose bearer token came with the
//! request. That token travels in a [`UserToken`] and is made current for a future with
//! [`scope`]; every vault call inside the future, however deep in the call stack, resolves the
//! same user through [`current`]. Nothing is stored in a shared client, so concurrent requests
//! cannot see each other's users.
//!
//! A task-local does not cross `tokio::spawn`: code that spawns work on behalf of the user must
//! pass the token along, with `scope` around the spawned future or `.user_token(…)` on the call.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

#[cfg(any(feature = "axum", feature = "mcp"))]
use crate::protocol::bearer::{MalformedBearer, bearer_token};

tokio::task_local! {
    static CURRENT_USER: UserToken;
}

/// An end user's bearer token, as issued by the identity provider.
///
/// Cloning is cheap. `Debug` and `Display` never show the token; [`UserToken::expose_secret`]
/// is the one way to read it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserToken(Arc<str>);

impl UserToken {
    /// Wraps a token. An empty token is allowed here and rejected when a call would send it.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// Returns the token itself, for sending it to the backend.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for UserToken {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

impl From<&str> for UserToken {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

impl fmt::Debug for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserToken(<redacted>)")
    }
}

impl fmt::Display for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted user token>")
    }
}

/// Runs `future` with `token` as the current user.
///
/// Scopes nest: an inner `scope` replaces the user until its future completes.
pub async fn scope<F: Future>(token: UserToken, future: F) -> F::Output {
    CURRENT_USER.scope(token, future).await
}

/// Returns the current user's token, if the caller runs inside [`scope`].
pub fn current() -> Option<UserToken> {
    CURRENT_USER.try_with(UserToken::clone).ok()
}

/// Reads the user of an HTTP request: the token an authentication layer put in the request
/// extensions, else the `Authorization: Bearer` header. `Ok(None)` when the request carries
/// neither.
#[cfg(any(feature = "axum", feature = "mcp"))]
pub(crate) fn request_user_token(
    parts: &http::request::Parts,
) -> Result<Option<UserToken>, MalformedBearer> {
    if let Some(token) = parts.extensions.get::<UserToken>() {
        return Ok(Some(token.clone()));
    }
    bearer_token(&parts.headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scope_sets_and_restores_user() {
        assert!(current().is_none());
        scope(UserToken::from("alice"), async {
            assert_eq!(current().unwrap().expose_secret(), "alice");
            scope(UserToken::from("bob"), async {
                assert_eq!(current().unwrap().expose_secret(), "bob");
            })
            .await;
            assert_eq!(current().unwrap().expose_secret(), "alice");
        })
        .await;
        assert!(current().is_none());
    }

    #[test]
    fn debug_redacts() {
        let token = UserToken::from("eyJhbGciOi.secret.sig");
        assert_eq!(format!("{token:?}"), "UserToken(<redacted>)");
        assert!(!token.to_string().contains("secret"));
    }
}
