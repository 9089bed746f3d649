//! Quickstart placeholder until the axum integration lands.
fn main() {}
