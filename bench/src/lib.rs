//! Benchmarks of the `alter` SDK.
//!
//! - [`canned`]: an in-process transport that responds to the vault's backend and provider
//!   requests from memory, so the `request` bench measures only the SDK's own work.
//! - [`load`]: a closed-loop HTTP/1.1 load generator with a fixed number of keep-alive
//!   connections and an HDR histogram of latencies.
//! - [`signed`]: signed `POST /sdk/token` requests, to time the backend round trip alone.
//! - [`setup`]: dev users with a connected demo grant each.
//! - [`floor`]: the quickstart's `/chat` without a vault, calling the demo API with a fixed token.
//! - [`hold`]: many open connections at once, for the memory measurement.
//!
//! `bench/run` builds these in release mode, starts every server on `127.0.0.1` and writes
//! `BENCHMARKS.md`.

pub mod canned;
pub mod floor;
pub mod hold;
pub mod load;
pub mod setup;
pub mod signed;
