//! `alter-dev`: runs DevVault as a standalone server.
fn main() {}
