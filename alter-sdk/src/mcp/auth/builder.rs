//! [`McpAuthBuilder`], which collects and validates the settings of [`McpAuth`].

use std::sync::Arc;
use std::time::Duration;

use crate::axum::AlterAxum;
use crate::error::Error;
use crate::vault::Vault;

use super::config::{
    AuthConfig, Lifetimes, MAX_CODE_LIFETIME, ProviderRequest, is_scope_token, normalize_url,
};
use super::memory::MemoryStore;
use super::store::AuthStore;
use super::{AuthState, McpAuth};

/// The scope clients get when the builder names none.
const DEFAULT_SCOPE: &str = "mcp";

impl AlterAxum {
    /// Starts building the authorization server for the MCP endpoint at `mcp_url`.
    ///
    /// `mcp_url` is the URL clients connect to, for example `https://example.com/mcp`. It is
    /// the protected resource and, unless [`McpAuthBuilder::issuer`] sets another, the issuer.
    /// See the [module documentation](crate::mcp::auth) for the whole setup.
    pub fn mcp_auth(&self, mcp_url: impl Into<String>) -> McpAuthBuilder {
        McpAuthBuilder {
            vault: self.vault().clone(),
            mcp_url: mcp_url.into(),
            issuer: None,
            scopes: None,
            providers: Vec::new(),
            store: None,
            lifetimes: Lifetimes::default(),
        }
    }
}

/// Builder for [`McpAuth`], created by [`AlterAxum::mcp_auth`].
#[must_use]
pub struct McpAuthBuilder {
    vault: Vault,
    mcp_url: String,
    issuer: Option<String>,
    scopes: Option<Vec<String>>,
    providers: Vec<ProviderRequest>,
    store: Option<Arc<dyn AuthStore>>,
    lifetimes: Lifetimes,
}

impl std::fmt::Debug for McpAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpAuthBuilder")
            .field("mcp_url", &self.mcp_url)
            .field("issuer", &self.issuer)
            .field("scopes", &self.scopes)
            .field("providers", &self.providers)
            .field("custom_store", &self.store.is_some())
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl McpAuthBuilder {
    /// Sets the issuer, the URL that identifies this authorization server in its metadata.
    /// The default is the MCP URL. The endpoints (`/authorize`, `/token`, …) live at the root
    /// of the issuer's origin, so the router of [`McpAuth::routes`] must be reachable there.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the scopes clients may request, listed in the metadata and the 401 challenge. A
    /// client that requests no scope gets all of them. The default is the single scope `mcp`.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a provider that users connect, with the provider scopes to ask for. Call it once
    /// per provider.
    pub fn provider<I, S>(mut self, provider: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.providers.push(ProviderRequest {
            provider: provider.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Keeps the server's state in `store` instead of the default [`MemoryStore`]. Replicas
    /// behind one load balancer need a store they share.
    pub fn store(mut self, store: impl AuthStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Sets how long access tokens stay valid, in whole seconds. The default is one hour.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.access_token = lifetime;
        self
    }

    /// Sets how long refresh tokens stay valid, counted again from each rotation, in whole
    /// seconds. The default is 24 hours.
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.refresh_token = lifetime;
        self
    }

    /// Sets how long an authorization code stays valid, counted from the call to
    /// `/authorize`, in whole seconds. The default and maximum is five minutes.
    pub fn code_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.code = lifetime;
        self
    }

    /// Sets how long a rotated refresh token may still be presented, in whole seconds. The
    /// default is 30 seconds.
    ///
    /// Inside the window each presentation returns a new pair and every pair stays valid, so
    /// a client whose refresh response was lost, or that refreshed from several tasks at
    /// once, keeps a working token. After it, presenting the rotated token is taken for a
    /// stolen token: the request fails with `invalid_grant` and every token issued from the
    /// same authorization is revoked. Zero disables the window.
    pub fn refresh_grace(mut self, window: Duration) -> Self {
        self.lifetimes.refresh_grace = window;
        self
    }

    /// Validates the settings and builds the authorization server.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] listing every invalid setting: an MCP URL or issuer that is not
    /// `https` (plain `http` is allowed for `localhost`, `127.0.0.1` and `[::1]`) or has a
    /// query, fragment or user name; an empty scope list or a scope with a space or quote; an
    /// empty provider key or provider scope; a lifetime under one second or with a fraction of
    /// a second; a code lifetime over five minutes; a grace window not shorter than the
    /// refresh-token lifetime.
    pub fn build(self) -> Result<McpAuth, Error> {
        let mut problems = Vec::new();
        let resource = normalize_url(&self.mcp_url, "MCP URL")
            .map_err(|problem| problems.push(problem))
            .ok();
        let issuer = match &self.issuer {
            Some(issuer) => normalize_url(issuer, "issuer")
                .map_err(|problem| problems.push(problem))
                .ok(),
            None => resource.clone(),
        };
        let scopes = self
            .scopes
            .unwrap_or_else(|| vec![DEFAULT_SCOPE.to_owned()]);
        check_scopes(&scopes, &mut problems);
        check_providers(&self.providers, &mut problems);
        check_lifetimes(&self.lifetimes, &mut problems);

        let (Some(resource), Some(issuer), true) = (resource, issuer, problems.is_empty()) else {
            return Err(Error::config(problems.join("; ")));
        };
        let config = AuthConfig {
            resource,
            issuer,
            scopes,
            providers: self.providers,
            lifetimes: self.lifetimes,
        };
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        Ok(McpAuth::from_state(AuthState::new(
            config, store, self.vault,
        )))
    }
}

fn check_scopes(scopes: &[String], problems: &mut Vec<String>) {
    if scopes.is_empty() {
        problems.push("the scope list is empty: give at least one scope, e.g. `mcp`".to_owned());
    }
    for scope in scopes {
        if !is_scope_token(scope) {
            problems.push(format!(
                "the scope {scope:?} is invalid: use printable ASCII without spaces, `\"` or `\\`"
            ));
        }
    }
}

fn check_providers(providers: &[ProviderRequest], problems: &mut Vec<String>) {
    for request in providers {
        if request.provider.trim().is_empty() {
            problems.push("a provider key is empty: give the key, e.g. `github`".to_owned());
        }
        if request.scopes.iter().any(|scope| scope.trim().is_empty()) {
            problems.push(format!(
                "a scope of provider {:?} is empty: remove it",
                request.provider
            ));
        }
    }
}

fn check_lifetimes(lifetimes: &Lifetimes, problems: &mut Vec<String>) {
    for (name, lifetime) in [
        ("access-token lifetime", lifetimes.access_token),
        ("refresh-token lifetime", lifetimes.refresh_token),
        ("code lifetime", lifetimes.code),
    ] {
        if lifetime < Duration::from_secs(1) {
            problems.push(format!(
                "the {name} is {lifetime:?}: give at least one second"
            ));
        }
    }
    for (name, lifetime) in [
        ("access-token lifetime", lifetimes.access_token),
        ("refresh-token lifetime", lifetimes.refresh_token),
        ("code lifetime", lifetimes.code),
        ("refresh grace window", lifetimes.refresh_grace),
    ] {
        if lifetime.subsec_nanos() != 0 {
            problems.push(format!("the {name} is {lifetime:?}: give whole seconds"));
        }
    }
    if lifetimes.code > MAX_CODE_LIFETIME {
        problems.push(format!(
            "the code lifetime is {:?}: give at most five minutes",
            lifetimes.code
        ));
    }
    if lifetimes.refresh_grace >= lifetimes.refresh_token {
        problems.push(format!(
            "the refresh grace window ({:?}) is not shorter than the refresh-token lifetime ({:?}): shorten the window",
            lifetimes.refresh_grace, lifetimes.refresh_token
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";

    fn alter() -> AlterAxum {
        AlterAxum::new(APP_KEY)
            .base_url("https://backend.alterauth.com")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn defaults_use_mcp_url_as_issuer() {
        let auth = alter()
            .mcp_auth("HTTP://LOCALHOST:8000/mcp")
            .build()
            .unwrap();
        let config = &auth.state().config;
        assert_eq!(config.resource_url(), "http://localhost:8000/mcp");
        assert_eq!(config.issuer_url(), "http://localhost:8000/mcp");
        assert_eq!(config.scopes, ["mcp"]);
        assert_eq!(config.lifetimes, Lifetimes::default());
        assert_eq!(
            config.resource_metadata_url(),
            "http://localhost:8000/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(config.endpoint_url("/token"), "http://localhost:8000/token");
    }

    #[tokio::test]
    async fn issuer_override() {
        let auth = alter()
            .mcp_auth("https://api.example.com/mcp")
            .issuer("https://api.example.com")
            .build()
            .unwrap();
        assert_eq!(auth.state().config.issuer_url(), "https://api.example.com");
    }

    #[tokio::test]
    async fn plain_http_rejected() {
        let error = alter()
            .mcp_auth("http://example.com/mcp")
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("\"http://example.com/mcp\""), "{message}");
        assert!(message.contains("must use https"), "{message}");
    }

    #[tokio::test]
    async fn every_problem_listed() {
        let error = alter()
            .mcp_auth("http://example.com/mcp")
            .issuer("https://example.com/?tenant=1")
            .scopes(["a b"])
            .provider("", ["repo"])
            .access_token_lifetime(Duration::from_millis(1500))
            .code_lifetime(Duration::from_secs(301))
            .refresh_token_lifetime(Duration::from_secs(10))
            .refresh_grace(Duration::from_secs(10))
            .build()
            .unwrap_err()
            .to_string();
        for expected in [
            "must use https",
            "query or fragment",
            "scope \"a b\" is invalid",
            "provider key is empty",
            "whole seconds",
            "at most five minutes",
            "not shorter than the refresh-token lifetime",
        ] {
            assert!(error.contains(expected), "missing {expected:?} in {error}");
        }
    }

    #[tokio::test]
    async fn empty_scope_list_rejected() {
        let error = alter()
            .mcp_auth("https://example.com/mcp")
            .scopes(Vec::<String>::new())
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains("scope list is empty"), "{error}");
    }

    #[tokio::test]
    async fn zero_lifetime_rejected() {
        let error = alter()
            .mcp_auth("https://example.com/mcp")
            .access_token_lifetime(Duration::ZERO)
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least one second"), "{error}");
    }

    #[tokio::test]
    async fn short_grace_accepted() {
        let auth = alter()
            .mcp_auth("https://example.com/mcp")
            .refresh_grace(Duration::ZERO)
            .provider("github", ["repo"])
            .build()
            .unwrap();
        let config = &auth.state().config;
        assert_eq!(config.lifetimes.refresh_grace, Duration::ZERO);
        assert_eq!(config.providers[0].provider, "github");
        assert_eq!(config.providers[0].scopes, ["repo"]);
    }
}
