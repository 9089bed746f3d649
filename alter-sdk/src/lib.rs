//! Rust SDK for Alter Vault.
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
//! | `dev` | DevVault: a local, in-memory Alter-compatible backend with a demo OAuth provider | no |
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "dev")]
#[cfg_attr(docsrs, doc(cfg(feature = "dev")))]
pub mod dev;
pub mod error;
pub mod identity;
pub mod protocol;
pub mod vault;

pub use error::{Error, Result};
pub use http::Method;
pub use identity::UserToken;
pub use vault::{CallerType, PrincipalKind, Vault, VaultBuilder};

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use alter_macros::handler;

/// Items the macros of `alter-macros` expand to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "axum")]
    pub use crate::axum::handler_support::{OptionalUser, RequiredUser, run_in_scope};
}
