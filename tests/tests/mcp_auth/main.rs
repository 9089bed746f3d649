//! The MCP authorization server of the combined quickstart app, driven over real sockets:
//! `/authorize`, the sign-in bridge page with and without scripts, and rmcp's own OAuth client
//! from discovery to a tool call.

mod authorize;
mod bridge;
mod rmcp_client;
mod support;
