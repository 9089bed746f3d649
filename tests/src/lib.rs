//! Shared helpers for the end-to-end tests.

pub mod offline;
pub mod redis_server;
pub mod server;
pub mod stand_in;

/// The README, whose Rust example is compiled as a doctest so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct Readme;
