//! An OAuth 2.1 authorization server for MCP clients, and the bearer guard for the MCP
//! endpoint.
//!
//! MCP clients (Claude Code, Cursor, VS Code, the MCP Inspector) find the server through
//! protected resource metadata (RFC 9728) and authorization server metadata (RFC 8414). They
//! register with dynamic client registration (RFC 7591) and sign the user in through the
//! backend's sign-in sessions. The tokens they receive are opaque; the user's identity-provider
//! token stays on the server and reaches tools and handlers through the same identity
//! resolution as REST routes.

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod store;
