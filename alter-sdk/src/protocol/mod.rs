//! The wire protocol between the SDK and the Alter backend.
//!
//! Everything here is pure: formats, validators and encoders with no I/O, shared by the vault
//! client and by DevVault, which must agree on every byte.

pub mod api_key;
pub mod audit;
pub mod base_url;
pub mod bearer;
pub mod context;
pub mod error_body;
pub mod inject;
pub mod json;
pub mod provider_url;
pub mod proxy;
pub mod rate_limit;
pub mod signing;
pub mod token_response;
pub mod www_authenticate;
