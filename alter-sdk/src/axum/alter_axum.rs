//! [`AlterAxum`], the application-wide handle that the extractors read from the router state.

use std::time::Duration;

use http::Extensions;

use crate::error::Error;
use crate::identity::UserToken;
use crate::vault::{CallerType, PrincipalKind, Vault, VaultBuilder};

/// The vault of an axum application, shared by every route.
///
/// Build it once at start-up and put it in the router state, directly or as a field that
/// [`FromRef`](axum::extract::FromRef) returns. The extractors of this module and
/// `#[alter::handler]` take the vault from there and bind it to the user of each request.
///
/// The vault here has no user bound. A call made on it directly, outside a handler's identity
/// scope, fails with [`Error::MissingUserToken`] instead of running with the application's
/// authority, unless the vault given to [`AlterAxum::from_vault`] was built with
/// [`VaultBuilder::app_scoped`].
///
/// ```no_run
/// use alter::axum::AlterAxum;
/// use axum::Router;
///
/// # fn run() -> Result<(), alter::Error> {
/// let alter = AlterAxum::new(std::env::var("ALTER_API_KEY").unwrap_or_default())
///     .caller("my-app")
///     .build()?;
/// let app: Router = Router::new().with_state(alter);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AlterAxum {
    vault: Vault,
}

impl AlterAxum {
    /// Starts building the handle for `api_key`.
    ///
    /// The principal kind comes from [`AlterAxumBuilder::kind`] or, without it, from the key's
    /// prefix: `alter_rk_` keys belong to applications and `alter_ak_` keys to agents. Other
    /// keys (legacy `alter_key_`, derived, publishable) need `.kind(…)`.
    #[expect(
        clippy::new_ret_no_self,
        reason = "`AlterAxum::new(key)…build()` reads as the constructor; the builder only collects settings"
    )]
    pub fn new(api_key: impl Into<String>) -> AlterAxumBuilder {
        AlterAxumBuilder {
            vault: Vault::builder(api_key),
        }
    }

    /// Wraps a vault built elsewhere. A user bound to `vault` is dropped, so that requests
    /// without a bearer token never act as that user.
    pub fn from_vault(vault: Vault) -> Self {
        Self {
            vault: vault.without_user_token(),
        }
    }

    /// Returns the vault, with no user bound.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Sets the user of a request by hand, for an authentication layer that validated the user
    /// itself (a session cookie, an MCP authorization server).
    ///
    /// The extractors prefer this token over the request's `Authorization` header, so call it
    /// in a middleware before the handler runs.
    ///
    /// ```no_run
    /// use alter::axum::AlterAxum;
    /// use axum::extract::Request;
    /// use axum::middleware::Next;
    /// use axum::response::Response;
    ///
    /// async fn session_auth(mut request: Request, next: Next) -> Response {
    ///     let token = String::from("…the user's token, from the session store…");
    ///     AlterAxum::set_user_token(&mut request, token);
    ///     next.run(request).await
    /// }
    /// ```
    pub fn set_user_token<R>(request: &mut R, token: impl Into<UserToken>)
    where
        R: RequestExtensions + ?Sized,
    {
        request.extensions_mut().insert(token.into());
    }

    /// Waits until every audit row scheduled so far has been sent (or has failed).
    pub async fn flush(&self) {
        self.vault.flush().await;
    }

    /// Flushes the audit queue at the end of the application's life, after the server stopped
    /// accepting requests, so that no audit row is lost.
    pub async fn shutdown(self) {
        self.vault.flush().await;
    }
}

/// A request, or the parts of one, whose extensions can carry the user's token.
///
/// Implemented for [`http::Request`], [`http::request::Parts`] and [`http::Extensions`]; see
/// [`AlterAxum::set_user_token`].
pub trait RequestExtensions {
    /// Returns the extensions to store the token in.
    fn extensions_mut(&mut self) -> &mut Extensions;
}

impl<B> RequestExtensions for http::Request<B> {
    fn extensions_mut(&mut self) -> &mut Extensions {
        http::Request::extensions_mut(self)
    }
}

impl RequestExtensions for http::request::Parts {
    fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

impl RequestExtensions for Extensions {
    fn extensions_mut(&mut self) -> &mut Extensions {
        self
    }
}

/// Builder for [`AlterAxum`], created by [`AlterAxum::new`]. The settings are the vault's.
#[derive(Debug)]
#[must_use]
pub struct AlterAxumBuilder {
    vault: VaultBuilder,
}

impl AlterAxumBuilder {
    /// Sets whether the key belongs to an application or a managed agent; see
    /// [`VaultBuilder::kind`].
    pub fn kind(self, kind: PrincipalKind) -> Self {
        Self {
            vault: self.vault.kind(kind),
        }
    }

    /// Names the calling service or agent; see [`VaultBuilder::caller`].
    pub fn caller(self, caller: impl Into<String>) -> Self {
        Self {
            vault: self.vault.caller(caller),
        }
    }

    /// Sets `X-Alter-Caller-Type`; see [`VaultBuilder::caller_type`].
    pub fn caller_type(self, caller_type: CallerType) -> Self {
        Self {
            vault: self.vault.caller_type(caller_type),
        }
    }

    /// Sets the backend base URL; see [`VaultBuilder::base_url`].
    pub fn base_url(self, base_url: impl Into<String>) -> Self {
        Self {
            vault: self.vault.base_url(base_url),
        }
    }

    /// Sets the timeout of each backend and provider request; see [`VaultBuilder::timeout`].
    pub fn timeout(self, timeout: Duration) -> Self {
        Self {
            vault: self.vault.timeout(timeout),
        }
    }

    /// Validates the configuration and builds the handle.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] listing every invalid setting, as [`VaultBuilder::build`] does.
    /// One of them is a key whose prefix does not tell an application from an agent while
    /// [`AlterAxumBuilder::kind`] is unset.
    pub fn build(self) -> Result<AlterAxum, Error> {
        self.vault.build().map(AlterAxum::from_vault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";
    const AGENT_KEY: &str = "alter_ak_a2b3c4d5e6f7g2h3i4j5k6_nis3d2";
    const LEGACY_KEY: &str = "alter_key_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_";
    const BASE_URL: &str = "https://backend.alterauth.com";

    #[tokio::test]
    async fn kind_inferred_for_app_key() {
        let alter = AlterAxum::new(APP_KEY).base_url(BASE_URL).build().unwrap();
        assert_eq!(alter.vault().kind(), PrincipalKind::App);
    }

    #[tokio::test]
    async fn kind_inferred_for_agent_key() {
        let alter = AlterAxum::new(AGENT_KEY)
            .base_url(BASE_URL)
            .build()
            .unwrap();
        assert_eq!(alter.vault().kind(), PrincipalKind::Agent);
    }

    #[tokio::test]
    async fn legacy_key_asks_for_kind() {
        let error = AlterAxum::new(LEGACY_KEY)
            .base_url(BASE_URL)
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("set `.kind(PrincipalKind::App)`"),
            "{message}"
        );
        assert!(!message.contains("Ab3-_"), "{message}");
    }

    #[tokio::test]
    async fn explicit_kind_wins() {
        let alter = AlterAxum::new(LEGACY_KEY)
            .kind(PrincipalKind::Agent)
            .base_url(BASE_URL)
            .build()
            .unwrap();
        assert_eq!(alter.vault().kind(), PrincipalKind::Agent);
    }

    #[tokio::test]
    async fn settings_reach_the_vault() {
        let error = AlterAxum::new(AGENT_KEY)
            .caller("bad\ncaller")
            .caller_type(CallerType::Service)
            .base_url("http://example.com")
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err()
            .to_string();
        for expected in [
            "printable ASCII",
            "always `agent`",
            "must use https",
            "greater than zero",
        ] {
            assert!(error.contains(expected), "missing {expected:?} in {error}");
        }
    }

    #[tokio::test]
    async fn from_vault_drops_bound_user() {
        let vault = Vault::builder(APP_KEY).base_url(BASE_URL).build().unwrap();
        let alter = AlterAxum::from_vault(vault.with_user_token("user-1"));
        assert!(alter.vault().bound_user_token().is_none());
    }

    #[test]
    fn set_user_token_on_request() {
        let mut request = http::Request::new(());
        AlterAxum::set_user_token(&mut request, "user-1");
        let token = request.extensions().get::<UserToken>().unwrap();
        assert_eq!(token.expose_secret(), "user-1");
    }

    #[test]
    fn set_user_token_on_parts() {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        AlterAxum::set_user_token(&mut parts, UserToken::from("user-2"));
        let token = parts.extensions.get::<UserToken>().unwrap();
        assert_eq!(token.expose_secret(), "user-2");
    }
}
