//! Shared helpers for the end-to-end tests.

pub mod offline;
pub mod server;
pub mod stand_in;
