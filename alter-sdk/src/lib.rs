//! Rust SDK for Alter Vault.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod identity;
pub mod protocol;

pub use error::{Error, Result};
pub use identity::UserToken;
