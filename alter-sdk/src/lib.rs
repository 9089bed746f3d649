//! Rust SDK for Alter Vault.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "dev")]
#[cfg_attr(docsrs, doc(cfg(feature = "dev")))]
pub mod dev;
pub mod error;
pub mod identity;
pub mod protocol;

pub use error::{Error, Result};
pub use identity::UserToken;
