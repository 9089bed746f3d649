//! The MCP example: two tools that call the demo provider's API for the user who made the call.
//!
//! - `whoami` returns the demo account the user connected.
//! - `post_message` posts a message as that account. It needs the `messages.write` scope,
//!   which the default connection lacks, so the first call returns a connect URL where the
//!   user authorizes the provider again.
//!
//! [`router`] serves them over streamable HTTP at `/mcp`, statelessly and with plain JSON
//! answers so that a single `curl` can call a tool.

use std::sync::Arc;

use alter::UserToken;
use alter::axum::AlterAxum;
use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::handler::server::router::tool::ToolRouter;
use alter::rmcp::handler::server::wrapper::Parameters;
use alter::rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use alter::rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use alter::rmcp::{Json, ServerHandler, tool_handler, tool_router};
use alter::{Method, Vault, rmcp, schemars};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// The provider both tools use.
pub const PROVIDER: &str = "demo";

/// The demo account of the caller.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Account {
    /// The account name; DevVault names it after the user who connected it.
    pub user: String,
    /// The scopes the user granted.
    pub scopes: Vec<String>,
}

/// A message to post.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewMessage {
    /// The text of the message, at most 500 characters.
    pub text: String,
}

/// A posted message.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Message {
    /// The message id.
    pub id: u64,
    /// The account that posted it.
    pub from: String,
    /// The text.
    pub text: String,
    /// When it was posted, as an RFC 3339 timestamp.
    pub created_at: String,
}

/// The tools, with the application's vault and the demo API's location.
#[derive(Clone)]
pub struct DemoTools {
    vault: Vault,
    demo_api_url: Arc<str>,
    tool_router: ToolRouter<Self>,
}

impl DemoTools {
    /// Builds the tools; `demo_api_url` is the demo provider's API, e.g.
    /// `http://127.0.0.1:8787/demo/api`.
    pub fn new(vault: Vault, demo_api_url: &str) -> Self {
        Self {
            vault,
            demo_api_url: demo_api_url.trim_end_matches('/').into(),
            tool_router: Self::tool_router(),
        }
    }
}

impl HasVault for DemoTools {
    fn vault(&self) -> &Vault {
        &self.vault
    }
}

#[tool_router]
impl DemoTools {
    /// Returns the demo account the user connected.
    #[alter::tool(provider = "demo", annotations(read_only_hint = true))]
    async fn whoami(&self, ctx: AlterContext) -> Result<Json<Account>, alter::Error> {
        let account = ctx
            .request(Method::GET, format!("{}/me", self.demo_api_url))
            .send()
            .await?
            .json()?;
        Ok(Json(account))
    }

    /// Posts a message as the user's demo account.
    #[alter::tool(provider = "demo", annotations(destructive_hint = false))]
    async fn post_message(
        &self,
        ctx: AlterContext,
        Parameters(message): Parameters<NewMessage>,
    ) -> Result<Json<Message>, alter::Error> {
        let posted = ctx
            .request(Method::POST, format!("{}/messages", self.demo_api_url))
            .json(&serde_json::json!({ "text": message.text }))
            .reason("post a message for the user")
            .send()
            .await?
            .json()?;
        Ok(Json(posted))
    }
}

#[tool_handler(router = self.tool_router, name = "alter-mcp-example")]
impl ServerHandler for DemoTools {}

/// Builds the streamable HTTP service of `tools`: stateless, with plain JSON responses.
pub fn service(tools: DemoTools) -> StreamableHttpService<DemoTools, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    StreamableHttpService::new(
        move || Ok(tools.clone()),
        LocalSessionManager::default().into(),
        config,
    )
}

/// Serves `tools` at `/mcp` to requests that carry a bearer token.
///
/// This example takes the identity provider's user tokens (DevVault user tokens here) as its
/// bearer tokens, so the layer only requires a well-formed `Authorization: Bearer` header. The
/// vault backend checks the token on every provider call, so a forged token reaches no
/// credential, and the tool returns the `invalid_token` error. The quickstart serves the same
/// tools behind an OAuth authorization server instead.
pub fn router(tools: DemoTools) -> Router {
    Router::new()
        .nest_service("/mcp", service(tools))
        .layer(middleware::from_fn(require_bearer))
}

/// Rejects a request without a well-formed bearer token with `401` and
/// `WWW-Authenticate: Bearer`, and passes the token on to the tools.
async fn require_bearer(user: UserToken, mut request: Request, next: Next) -> Response {
    AlterAxum::set_user_token(&mut request, user);
    next.run(request).await
}
