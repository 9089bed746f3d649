use alter::mcp::AlterContext;
use alter::rmcp;
use alter::rmcp::tool_router;

struct Tools;

#[tool_router]
impl Tools {
    #[alter::tool(provider = "github")]
    async fn stars(&self, ctx: AlterContext) -> String {
        format!("{ctx:?}")
    }
}

fn main() {
    let _ = Tools::tool_router();
}
