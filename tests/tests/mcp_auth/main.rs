//! End-to-end tests of the MCP authorization server: metadata, registration, the token and
//! revocation endpoints, and the bearer guard in front of an rmcp endpoint and a REST route.
//! DevVault is the backend; everything runs on `127.0.0.1` and is driven with reqwest.
//!
//! Codes come from the store directly, in place of `/authorize` and the sign-in page.

mod guard;
mod metadata;
mod refresh;
mod register;
mod revoke;
mod support;
mod token;
