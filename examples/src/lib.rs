//! Runnable examples for the `alter` SDK. The apps live here as library code, so that tests can
//! drive the same routes the examples serve.

pub mod mcp_server;
pub mod quickstart;
