//! Attribute macros for the `alter` SDK. Use them through the `alter` crate, as
//! `#[alter::handler]`.

mod args;
mod handler;

use proc_macro::TokenStream;

/// Rewrites an async axum handler so that its `Vault` parameter is bound to the request's
/// user and its body runs in that user's identity scope.
///
/// ```no_run
/// use alter::Vault;
/// use alter::axum::AlterAxum;
/// use axum::Json;
/// use axum::Router;
/// use axum::extract::{Path, State};
/// use axum::routing::post;
///
/// #[alter::handler]
/// async fn connect(
///     State(alter): State<AlterAxum>,
///     vault: Vault,
///     Path(provider): Path<String>,
///     Json(return_url): Json<String>,
/// ) -> Result<String, alter::Error> {
///     let session = vault
///         .create_connect_session()
///         .allowed_providers([provider])
///         .return_url(return_url)
///         .send()
///         .await?;
///     Ok(session.connect_url)
/// }
///
/// # fn app(alter: AlterAxum) -> Router {
/// Router::new()
///     .route("/connect/{provider}", post(connect))
///     .with_state(alter)
/// # }
/// ```
///
/// The parameter is recognised by its type: `Vault`, `alter::Vault`, or any path whose last
/// segment is `Vault`. The macro replaces it with an extractor that reads the user's bearer
/// token, as the `Vault` extractor does, and rejects a request without one with `401` and
/// `WWW-Authenticate: Bearer`. The other parameters stay as written, so `State`, `Path`,
/// `Query` and a body extractor in the last position work beside it. The router state must
/// provide an `alter::axum::AlterAxum` through `axum::extract::FromRef`.
///
/// Inside the body, `alter::identity::current()` returns the user's token,
/// so helper functions deeper in the call stack, and any unbound clone of the vault, act for
/// the same user.
///
/// # Arguments
///
/// - `optional`: a request without an `Authorization` header runs the handler with an unbound
///   vault and no identity scope, so user-scoped calls fail with
///   `alter::Error::MissingUserToken`. A malformed header is still rejected.
/// - `crate = "path"`: where to find this crate when the dependency is renamed, such as
///   `crate = "my_alter"`.
///
/// # With `#[axum::debug_handler]`
///
/// Both orders compile. With `#[alter::handler]` first, `debug_handler` checks the rewritten
/// function; with `#[axum::debug_handler]` first, it checks the function as written, where
/// `Vault` is itself an extractor. `debug_handler` needs `state = …` unless a `State`
/// parameter names the state type, because the vault parameter needs it.
///
/// # Limitations
///
/// The parameter is found by the spelling of its type, so a type alias with another name is
/// not recognised:
///
/// ```compile_fail
/// type UserVault = alter::Vault;
///
/// #[alter::handler]
/// async fn profile(vault: UserVault) {}
/// ```
///
/// The identity scope is a task-local value, so it does not reach tasks started with
/// `tokio::spawn`. Pass the bound vault or the token to them, or wrap the spawned future in
/// `alter::identity::scope`.
///
/// The function must be `async`:
///
/// ```compile_fail
/// #[alter::handler]
/// fn profile(vault: alter::Vault) {}
/// ```
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}
