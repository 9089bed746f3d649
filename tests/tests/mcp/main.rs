//! End-to-end tests of `#[alter::tool]` and `AlterContext`: DevVault as the backend, an rmcp
//! server over streamable HTTP on `127.0.0.1` (or over a one-user pipe), and rmcp's own
//! client, or plain JSON-RPC over HTTP where rmcp's client cannot say what a test needs.

mod audit;
mod authorization;
mod concurrency;
mod failures;
mod identity;
mod raw;
mod schema;
mod support;
mod tools;
mod transport;
