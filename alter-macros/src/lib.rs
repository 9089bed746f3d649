//! Attribute macros for the `alter` SDK. Use them through the `alter` crate.
