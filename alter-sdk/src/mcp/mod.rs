//! MCP tools on [rmcp](https://docs.rs/rmcp) 3.11 that call providers for the user who made
//! the call.
//!
//! A tool takes an [`AlterContext`] and is marked with [`#[alter::tool]`](crate::tool) in
//! place of rmcp's `#[tool]`. The context is the vault bound to the user of that one call.
//! `ctx.request(…)` fetches the user's credential for the tool's provider and calls the
//! provider, and the audit row records `{"tool": <name>}` as its context.
//!
//! ```no_run
//! use alter::mcp::{AlterContext, HasVault};
//! use alter::rmcp::handler::server::router::tool::ToolRouter;
//! use alter::rmcp::handler::server::wrapper::Parameters;
//! use alter::rmcp::{Json, ServerHandler, tool_handler, tool_router};
//! use alter::{Method, Vault, rmcp, schemars};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct RepoQuery {
//!     /// The repository, as `owner/name`.
//!     repo: String,
//! }
//!
//! #[derive(serde::Serialize, schemars::JsonSchema)]
//! struct Stars {
//!     stars: u64,
//! }
//!
//! #[derive(Clone)]
//! struct GitHubTools {
//!     vault: Vault,
//!     tool_router: ToolRouter<Self>,
//! }
//!
//! impl HasVault for GitHubTools {
//!     fn vault(&self) -> &Vault {
//!         &self.vault
//!     }
//! }
//!
//! #[tool_router]
//! impl GitHubTools {
//!     /// Counts the stars of a repository.
//!     #[alter::tool(provider = "github", annotations(read_only_hint = true))]
//!     async fn stars(
//!         &self,
//!         ctx: AlterContext,
//!         Parameters(query): Parameters<RepoQuery>,
//!     ) -> Result<Json<Stars>, alter::Error> {
//!         let repo: serde_json::Value = ctx
//!             .request(Method::GET, format!("https://api.github.com/repos/{}", query.repo))
//!             .send()
//!             .await?
//!             .json()?;
//!         Ok(Json(Stars {
//!             stars: repo["stargazers_count"].as_u64().unwrap_or(0),
//!         }))
//!     }
//! }
//!
//! #[tool_handler(router = self.tool_router)]
//! impl ServerHandler for GitHubTools {}
//!
//! # fn build(vault: Vault) -> GitHubTools {
//! GitHubTools { vault, tool_router: GitHubTools::tool_router() }
//! # }
//! ```
//!
//! # Imports
//!
//! rmcp's macros write paths that start with `rmcp::`, so the module that holds the tools
//! must name rmcp: either `use alter::rmcp;`, as above, or a direct dependency on `rmcp`
//! 3.11 (the same version `alter` uses). Types that derive `schemars::JsonSchema` need
//! schemars 1 in scope the same way: `use alter::schemars;`, or a dependency on
//! `schemars` 1. The flag `#[tool_router(server_handler)]` emits `::rmcp::…` paths, which only
//! a direct dependency satisfies; write `#[tool_handler]` on the `ServerHandler` impl instead.
//!
//! # The user of a call
//!
//! [`AlterContext`] finds the user in the call itself, never in the MCP session or the
//! server, so concurrent calls, and a client that switches tokens on one session, each act
//! for their own user:
//!
//! - over streamable HTTP, the HTTP request that carried the JSON-RPC call: the
//!   [`UserToken`](crate::UserToken) an authentication layer stored in its extensions with
//!   [`AlterAxum::set_user_token`](crate::axum::AlterAxum::set_user_token) (as a validated
//!   identity), else its `Authorization: Bearer` header;
//! - over a transport made with [`stdio`] or [`with_user`], the user configured at start.
//!
//! A call without a user, or with a malformed `Authorization` header, fails with the
//! JSON-RPC error `-32600` before the tool runs. The vault comes from the server type, which
//! implements [`HasVault`].
//!
//! ```no_run
//! # use alter::rmcp::ServerHandler;
//! # async fn run<S: ServerHandler + Clone>(server: S) -> Result<(), Box<dyn std::error::Error>> {
//! use alter::rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
//! use alter::rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
//!
//! let mcp = StreamableHttpService::new(
//!     move || Ok(server.clone()),
//!     LocalSessionManager::default().into(),
//!     StreamableHttpServerConfig::default(),
//! );
//! // Put the layer that validates the bearer token around this router.
//! let app = axum::Router::new().nest_service("/mcp", mcp);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # When the user has not connected the provider
//!
//! When the tool fails with an error that a connect session fixes (no grant for the provider,
//! no delegated grant, missing scopes, a revoked, expired or deleted grant, a credential the
//! provider rejects), `#[alter::tool]` creates a connect session for the call's user and that
//! provider, with the attribute's label as the requested grant label and the missing scopes as
//! required scopes, and answers in the shape the client understands:
//!
//! | client | answer |
//! |---|---|
//! | protocol `2026-07-28`, declared `elicitation.url` | an `input_required` result with a URL-mode elicitation |
//! | protocol `2025-11-25`, declared `elicitation.url` | the JSON-RPC error `-32042` with a URL-mode elicitation |
//! | any other | `isError: true`, the URL in the text, `{"error": "authorization_required", "provider", "connect_url"}` as structured content |
//!
//! After the user finishes the connect flow, the same call succeeds. When the session cannot be
//! created the answer says to try again later and the failure is logged under `alter::mcp`.
//!
//! The tool recognises the error by its return value, so return `Result<_, alter::Error>`, or
//! `Result<_, rmcp::ErrorData>` with `?` on vault calls. Other error types (`String`, say)
//! carry no provider and get no connect URL.
//!
//! # Errors as results
//!
//! `alter::Error` converts into a tool result with `isError: true` and into
//! [`rmcp::ErrorData`]. Both carry a fixed message per error and
//! `{"error": <code>, "message": <text>}`, never the backend's or provider's own text, a URL,
//! a request id or a secret. Errors the user cannot fix (configuration, timeouts, upstream
//! failures) are logged in full under `alter::mcp`. A tool body that panics answers with an
//! `internal_error` result, and the server keeps serving.
//!
//! # Stdio
//!
//! A local client starts the server as a child process and speaks MCP over its stdin and
//! stdout. Give the user's token in the server's configuration, for instance an environment
//! variable the client sets when it starts the server, and serve on [`stdio`]:
//!
//! ```no_run
//! # use alter::rmcp::ServerHandler;
//! # async fn run<S: ServerHandler>(server: S) -> Result<(), Box<dyn std::error::Error>> {
//! use alter::rmcp::ServiceExt as _;
//!
//! let token = std::env::var("ALTER_USER_TOKEN")?;
//! server.serve(alter::mcp::stdio(token)).await?.waiting().await?;
//! # Ok(()) }
//! ```
//!
//! Every call on that connection acts for that user. Log to stderr: stdout carries the
//! protocol.
//!
//! # Limitations
//!
//! - The identity and audit context scopes are task-local, so they do not reach tasks the
//!   tool starts with `tokio::spawn`; pass `ctx` (or `ctx.vault()`) to them.
//! - In a plain rmcp `#[tool]` the context works as an extractor, but the body runs without the
//!   identity and audit context scopes and an authorization error gets no connect URL: only
//!   `ctx.request(…)` carries the user and `{"tool": <name>}`.
//! - On a stateless HTTP server (`legacy_session_mode` off), clients on protocols before
//!   `2026-07-28` get the `isError` answer, because rmcp 3.11 does not keep the capabilities
//!   they declared in `initialize`.

#[cfg(feature = "mcp-auth")]
pub mod auth;
mod authorization;
mod context;
mod stdio;
pub(crate) mod tool_call;
mod tool_error;

pub use context::{AlterContext, HasVault};
pub use stdio::{UserTransport, stdio, with_user};
