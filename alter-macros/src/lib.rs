//! Attribute macros for the `alter` SDK. Use them through the `alter` crate, as
//! `#[alter::handler]`, which documents them.

mod args;
mod handler;

use proc_macro::TokenStream;

/// Binds an async axum handler's `Vault` parameter to the request's user, and runs the body in
/// that user's identity scope.
///
/// Arguments: `optional` lets requests without a bearer token through with no user;
/// `crate = "path"` names a renamed `alter` dependency. The `alter` crate documents the macro
/// in full, as `alter::handler`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}
