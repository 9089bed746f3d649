use alter::mcp::AlterContext;
use alter::rmcp;
use alter::rmcp::tool;

struct Tools;

impl Tools {
    #[tool(description = "Counts stars")]
    #[alter::tool(provider = "github")]
    async fn stars(&self, ctx: AlterContext) -> String {
        format!("{ctx:?}")
    }
}

fn main() {}
