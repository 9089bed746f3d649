//! Rust SDK for Alter Vault.
//!
//! # Features
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | `axum` | The [`axum`] integration: [`AlterAxum`](crate::axum::AlterAxum), bearer extractors, [`#[alter::handler]`](crate::handler) and `alter::Error` as a response | yes |
//! | `otel` | Backend requests carry the active OpenTelemetry span's `traceparent` header | no |
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
