//! End-to-end tests of the MCP authorization server, with DevVault as the backend and
//! everything on `127.0.0.1`:
//!
//! - metadata, registration, the token and revocation endpoints, and the bearer guard in front
//!   of an rmcp endpoint and a REST route, driven with reqwest (`support`). Their codes come
//!   from the store directly, in place of `/authorize` and the sign-in page;
//! - the combined quickstart app: `/authorize`, the sign-in bridge page with and without
//!   scripts, and rmcp's own OAuth client from discovery to a tool call (`quickstart_app`);
//! - the same bridge page in headless Chromium, with scripts on and off (`browser`).

mod authorize;
mod bridge;
mod browser;
mod connect;
mod guard;
mod metadata;
mod quickstart_app;
mod refresh;
mod register;
mod revoke;
mod rmcp_client;
mod sequence;
mod support;
mod token;
