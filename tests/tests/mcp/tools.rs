//! The MCP server under test: tools against DevVault's demo provider, written the way the
//! `alter::mcp` documentation shows.

use std::sync::Arc;

use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::handler::server::router::tool::ToolRouter;
use alter::rmcp::handler::server::wrapper::Parameters;
use alter::rmcp::model::CallToolResponse;
use alter::rmcp::{ErrorData, Json, ServerHandler, tool, tool_handler, tool_router};
use alter::{Method, Vault, rmcp, schemars};
use serde::{Deserialize, Serialize};

/// The demo provider's id.
pub(crate) const PROVIDER: &str = "demo";

/// An id the test finds again in the provider URL of the audit row.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct CallId {
    /// Any text without `&` or `#`; it goes into the provider URL's query.
    pub(crate) call: String,
}

/// The demo account whose credential the call used.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Me {
    /// The DevVault user whose grant was used.
    pub(crate) user: String,
    /// The scopes of that grant.
    pub(crate) scopes: Vec<String>,
}

/// A message to post.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct Post {
    /// The text of the message.
    pub(crate) text: String,
}

/// A posted message.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Posted {
    /// The message id.
    pub(crate) id: u64,
    /// The account that posted it.
    pub(crate) from: String,
    /// The text.
    pub(crate) text: String,
}

#[derive(Clone)]
pub(crate) struct Tools {
    vault: Vault,
    demo_api: Arc<str>,
    hanging_url: Arc<str>,
    tool_router: ToolRouter<Self>,
}

impl Tools {
    /// Builds the tools for `vault`; `slow` calls `hanging_url`, which never responds.
    pub(crate) fn new(vault: Vault, demo_api: &str, hanging_url: &str) -> Self {
        Self {
            vault,
            demo_api: demo_api.into(),
            hanging_url: hanging_url.into(),
            tool_router: Self::tool_router(),
        }
    }

    fn me_url(&self, call: &str) -> String {
        format!("{}/me?call={call}", self.demo_api)
    }
}

impl HasVault for Tools {
    fn vault(&self) -> &Vault {
        &self.vault
    }
}

#[tool_router]
impl Tools {
    /// Returns the caller's demo account.
    #[alter::tool(provider = "demo", annotations(read_only_hint = true))]
    async fn whoami(&self, ctx: AlterContext) -> Result<Json<Me>, alter::Error> {
        let me = ctx
            .request(Method::GET, self.me_url("whoami"))
            .send()
            .await?
            .json()?;
        Ok(Json(me))
    }

    /// Returns the caller's demo account.
    #[tool(annotations(read_only_hint = true))]
    async fn whoami_plain(&self, ctx: AlterContext) -> Result<Json<Me>, alter::Error> {
        let me = ctx
            .with_provider(PROVIDER)
            .request(Method::GET, self.me_url("whoami_plain"))
            .send()
            .await?
            .json()?;
        Ok(Json(me))
    }

    /// Returns the caller's demo account connected under the label `work`.
    #[alter::tool(provider = "demo", label = "work")]
    async fn whoami_work(&self, ctx: AlterContext) -> Result<Json<Me>, alter::Error> {
        let me = ctx
            .request(Method::GET, self.me_url("whoami_work"))
            .send()
            .await?
            .json()?;
        Ok(Json(me))
    }

    /// Calls the demo API through the server's own vault, which has no user bound, so the
    /// user and the audit context come from the tool's scopes.
    #[alter::tool(provider = "demo", name = "direct_me")]
    async fn direct(
        &self,
        _ctx: AlterContext,
        Parameters(CallId { call }): Parameters<CallId>,
    ) -> Result<Json<Me>, alter::Error> {
        let me = self
            .vault
            .request(Method::GET, self.me_url(&call))
            .provider(PROVIDER)
            .send()
            .await?
            .json()?;
        Ok(Json(me))
    }

    /// Calls the demo API, then the `inner` tool.
    #[alter::tool(provider = "demo")]
    async fn outer(
        &self,
        ctx: AlterContext,
        Parameters(CallId { call }): Parameters<CallId>,
    ) -> Result<CallToolResponse, ErrorData> {
        ctx.request(Method::GET, self.me_url(&format!("{call}-outer")))
            .send()
            .await?;
        let inner = CallId {
            call: format!("{call}-inner"),
        };
        self.inner(ctx, Parameters(inner)).await
    }

    /// Calls the demo API through the server's vault.
    #[alter::tool(provider = "demo")]
    async fn inner(
        &self,
        _ctx: AlterContext,
        Parameters(CallId { call }): Parameters<CallId>,
    ) -> Result<Json<Me>, alter::Error> {
        let me = self
            .vault
            .request(Method::GET, self.me_url(&call))
            .provider(PROVIDER)
            .send()
            .await?
            .json()?;
        Ok(Json(me))
    }

    /// Posts a message as the caller; needs the `messages.write` scope.
    #[alter::tool(provider = "demo")]
    async fn post_message(
        &self,
        ctx: AlterContext,
        Parameters(Post { text }): Parameters<Post>,
    ) -> Result<Json<Posted>, ErrorData> {
        let posted = ctx
            .request(Method::POST, format!("{}/messages", self.demo_api))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await?
            .json()?;
        Ok(Json(posted))
    }

    /// Calls a provider this DevVault does not know, so no connect session can fix it.
    #[alter::tool(provider = "not-configured")]
    async fn unconfigured(&self, ctx: AlterContext) -> Result<String, alter::Error> {
        ctx.request(Method::GET, self.me_url("unconfigured"))
            .send()
            .await?;
        Ok("the provider answered".to_owned())
    }

    /// Panics.
    #[alter::tool(provider = "demo")]
    async fn panics(&self, _ctx: AlterContext) -> String {
        panic!("the tool broke on purpose")
    }

    /// Calls a provider URL that never responds.
    #[alter::tool(provider = "demo")]
    async fn slow(&self, ctx: AlterContext) -> Result<String, alter::Error> {
        ctx.request(Method::GET, self.hanging_url.as_ref())
            .send()
            .await?;
        Ok("the provider answered".to_owned())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {}
