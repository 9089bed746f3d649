#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::handler::server::router::tool::ToolRouter;
use alter::rmcp::{ServerHandler, ServiceExt as _, tool_handler, tool_router};
use alter::{Vault, rmcp};

#[derive(Clone)]
struct Tools {
    vault: Vault,
    tool_router: ToolRouter<Self>,
}

impl HasVault for Tools {
    fn vault(&self) -> &Vault {
        &self.vault
    }
}

#[tool_router]
impl Tools {
    /// Returns the provider.
    #[alter::tool(provider = "github")]
    async fn provider(&self, mut ctx: AlterContext) -> String {
        ctx = ctx.with_label("personal");
        format!("{} {}", ctx.provider().unwrap_or_default(), ctx.label().unwrap_or_default())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {}

#[allow(dead_code, reason = "compiled, never run: it would wait for stdin")]
async fn serve(vault: Vault, token: String) -> Result<(), Box<dyn std::error::Error>> {
    let tools = Tools { vault, tool_router: Tools::tool_router() };
    tools.serve(alter::mcp::stdio(token)).await?.waiting().await?;
    Ok(())
}

fn main() {}
