//! End-to-end tests of `#[alter::tool]` and `AlterContext`. DevVault is the backend, and an
//! rmcp server runs over streamable HTTP on `127.0.0.1` or over a one-user pipe. The client is
//! rmcp's own, or plain JSON-RPC over HTTP where rmcp's client cannot send what a test needs.

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
