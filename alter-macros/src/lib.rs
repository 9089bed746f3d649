//! Attribute macros for the `alter` SDK. Use them through the `alter` crate, as
//! `#[alter::handler]` and `#[alter::tool]`.

mod args;
mod emit;
mod handler;
mod tool;
mod tool_args;

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

/// Registers an MCP tool with rmcp and runs it for the user who made the call: the tool's
/// `AlterContext` parameter arrives with the provider set, and the body runs in the user's
/// identity scope with the audit context `{"tool": <name>}`.
///
/// Write it in place of rmcp's `#[tool]` on a method of a `#[tool_router]` impl; it emits
/// rmcp's `#[tool]` itself. The server type implements `alter::mcp::HasVault`, and the module
/// names rmcp (`use alter::rmcp;`) because rmcp's macros write `rmcp::` paths.
///
/// ```no_run
/// use alter::mcp::{AlterContext, HasVault};
/// use alter::rmcp::handler::server::router::tool::ToolRouter;
/// use alter::rmcp::handler::server::wrapper::Parameters;
/// use alter::rmcp::{Json, ServerHandler, tool_handler, tool_router};
/// use alter::{Method, Vault, rmcp, schemars};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Post {
///     /// The text to post.
///     text: String,
/// }
///
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Posted {
///     id: u64,
/// }
///
/// #[derive(Clone)]
/// struct Tools {
///     vault: Vault,
///     tool_router: ToolRouter<Self>,
/// }
///
/// impl HasVault for Tools {
///     fn vault(&self) -> &Vault {
///         &self.vault
///     }
/// }
///
/// #[tool_router]
/// impl Tools {
///     /// Posts a message as the user.
///     #[alter::tool(provider = "demo", label = "work", annotations(destructive_hint = false))]
///     async fn post_message(
///         &self,
///         ctx: AlterContext,
///         Parameters(post): Parameters<Post>,
///     ) -> Result<Json<Posted>, alter::Error> {
///         let posted: serde_json::Value = ctx
///             .request(Method::POST, "https://api.example.com/messages")
///             .json(&serde_json::json!({ "text": post.text }))
///             .send()
///             .await?
///             .json()?;
///         Ok(Json(Posted { id: posted["id"].as_u64().unwrap_or_default() }))
///     }
/// }
///
/// #[tool_handler(router = self.tool_router)]
/// impl ServerHandler for Tools {}
/// ```
///
/// The `AlterContext` parameter is recognised by its type, `AlterContext` or any path ending
/// in `AlterContext`. It never appears in the tool's input schema, which comes from
/// `Parameters<T>` as in rmcp. The return type is anything rmcp accepts from a tool, and a
/// return type spelled `Json<T>` or `Result<Json<T>, E>` keeps its output schema.
///
/// When the body returns an `alter::Error` that a connect session fixes (the user has not
/// connected the provider, or must authorize more scopes), the tool answers with a connect
/// URL in the shape the client understands; see the `alter::mcp` module. A panic in the body
/// becomes an error result.
///
/// # Arguments
///
/// - `provider = "…"` (required): the provider id whose grant `ctx.request(…)` uses.
/// - `label = "…"`: chooses among the user's grants for the provider, and names the grant a
///   connect session creates.
/// - `crate = "path"`: where to find this crate when the dependency is renamed, such as
///   `crate = "my_alter"`.
/// - rmcp's `#[tool]` arguments, passed through unchanged: `name`, `title`, `description`,
///   `input_schema`, `output_schema`, `annotations(…)`, `icons`, `meta`, `local`. The doc
///   comment is the description unless `description` is given. The tool name (`name`, else
///   the function's) is the `tool` of the audit context.
///
/// # Limitations
///
/// `#[tool_router]` registers methods whose attribute is named `tool`, so import the macro
/// under that name (`#[alter::tool]` or `use alter::tool;`), never renamed. Write it alone;
/// rmcp's `#[tool]` on the same method is an error, above or below it.
///
/// The function must be `async`:
///
/// ```compile_fail
/// #[alter::tool(provider = "github")]
/// fn stars(ctx: alter::mcp::AlterContext) {}
/// ```
///
/// The identity and audit context scopes are task-local values, so they do not reach tasks
/// started with `tokio::spawn`; pass `ctx` to them.
#[proc_macro_attribute]
pub fn tool(args: TokenStream, item: TokenStream) -> TokenStream {
    tool::expand(args.into(), item.into()).into()
}
