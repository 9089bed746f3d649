//! Rust SDK for Alter Vault.
//!
//! # Features
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | `axum` | The [`axum`] integration: [`AlterAxum`](crate::axum::AlterAxum), bearer extractors, [`#[alter::handler]`](crate::handler) and `alter::Error` as a response | yes |
//! | `dev` | DevVault: a local, in-memory Alter-compatible backend with a demo OAuth provider | no |
//! | `mcp` | MCP tools on rmcp 3.11: [`AlterContext`](crate::mcp::AlterContext), [`#[alter::tool]`](crate::tool), the stdio transport, and `alter::rmcp` / `alter::schemars` | no |
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
