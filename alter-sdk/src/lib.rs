//! Rust SDK for Alter Vault.
#![cfg_attr(docsrs, feature(doc_cfg))]

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
