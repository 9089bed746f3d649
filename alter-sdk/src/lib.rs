//! Rust SDK for Alter Vault, a credential vault for applications and AI agents.
//!
//! An application calls GitHub, Google or Slack on behalf of its signed-in user. The vault stores
//! the user's OAuth grants; for each call this crate fetches the right credential, injects it
//! into the provider request, and records an audit row. Application code never sees a provider
//! token.
//!
//! # Tasks
//!
//! - **Call a provider as the user**: build a [`Vault`] once, then
//!   `vault.request(Method::GET, url).provider("github").send()`; see [`vault`].
//! - **Let the user authorize a provider**: [`Vault::create_connect_session`] returns the URL of
//!   a hosted page; [`Vault::wait_for_connect_session`] waits for the grant.
//! - **Serve users from axum**: [`axum::AlterAxum`] in the router state and
//!   `#[alter::handler]` on a handler bind the vault to each request's bearer token; see
//!   [`axum`].
//! - **Recover from errors**: [`Error`] says whether a connect session would fix a failure
//!   ([`Error::needs_connect_session`]), for which provider, and how long to wait before a
//!   retry.
//! - **Develop and test without an account**: `dev::DevVault` (feature `dev`) is a local
//!   backend with a demo OAuth provider, also available as the `alter-dev` binary.
//!
//! ```no_run
//! # async fn run() -> Result<(), alter::Error> {
//! use alter::{Method, Vault};
//!
//! let vault = Vault::builder(std::env::var("ALTER_API_KEY").unwrap_or_default())
//!     .caller("billing-service")
//!     .build()?;
//! let user = vault.with_user_token("eyJ…the user's bearer token…");
//! let response = user
//!     .request(Method::GET, "https://api.github.com/user/repos")
//!     .provider("github")
//!     .reason("list the user's repositories")
//!     .send()
//!     .await?;
//! let repos: serde_json::Value = response.json()?;
//! # Ok(()) }
//! ```
//!
//! # Identity
//!
//! A call acts for the user whose token it was given (`.user_token(…)`), else the one bound with
//! [`Vault::with_user_token`], else the one of the current [`identity::scope`]. A call that finds
//! none fails with [`Error::MissingUserToken`]; it never falls back to the application's own
//! authority unless the vault was built with [`VaultBuilder::app_scoped`].
//!
//! An application calls providers such as GitHub or Google on behalf of its signed-in users.
//! The vault stores each user's OAuth grants, and [`Vault::request`] fetches the user's
//! credential, injects it into the provider request and records an audit row, so application
//! code never handles a provider token.
//!
//! - [`Vault`] is the client; build it once with [`Vault::builder`] and clone it freely.
//! - The `axum` module has `AlterAxum`, the bearer extractors and `#[alter::handler]`, which
//!   bind the vault to the user of each request.
//! - The `dev` module has DevVault, a local backend with a demo OAuth provider, for development
//!   and tests.
//! - [`Error`] is every failure, with accessors that say how to recover.
//!
//! # Features
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | `axum` | The [`axum`] integration: [`AlterAxum`](crate::axum::AlterAxum), bearer extractors, [`#[alter::handler]`](crate::handler) and `alter::Error` as a response | yes |
//! | `otel` | Backend requests carry the active OpenTelemetry span's `traceparent` header | no |
//! | `dev` | DevVault: a local, in-memory Alter-compatible backend with a demo OAuth provider | no |
//! | `mcp` | MCP tools on rmcp 3.11: [`AlterContext`](crate::mcp::AlterContext), [`#[alter::tool]`](crate::tool), the stdio transport, and `alter::rmcp` / `alter::schemars` | no |
//! | `mcp-auth` | An OAuth 2.1 authorization server for MCP clients and the bearer guard for the MCP endpoint, in [`alter::mcp::auth`](crate::mcp::auth) | no |
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit_context;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "dev")]
#[cfg_attr(docsrs, doc(cfg(feature = "dev")))]
pub mod dev;
pub mod error;
pub mod identity;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
pub mod protocol;
pub mod vault;

pub use error::{Error, Result};
pub use http::Method;
pub use identity::UserToken;
pub use vault::{CallerType, PrincipalKind, Vault, VaultBuilder};

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use alter_macros::handler;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub use alter_macros::tool;
/// The rmcp crate this SDK is built on, so that tools need no dependency of their own: write
/// `use alter::rmcp;` where rmcp's macros are used.
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub use rmcp;
/// The schemars version rmcp uses, for `#[derive(schemars::JsonSchema)]` on tool arguments and
/// outputs: write `use alter::schemars;`.
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub use rmcp::schemars;

/// Items the macros of `alter-macros` expand to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "axum")]
    pub use crate::axum::handler_support::{OptionalUser, RequiredUser, run_in_scope};
    #[cfg(feature = "mcp")]
    pub use rmcp;

    /// The runtime of `#[alter::tool]`.
    #[cfg(feature = "mcp")]
    pub mod mcp {
        pub use crate::mcp::tool_call::{ToolCall, assert_has_vault};
    }
}
