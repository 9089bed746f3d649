use alter::mcp::AlterContext;
use alter::rmcp;
use alter::rmcp::tool;

struct Tools;

impl Tools {
    #[alter::tool(provider = "github")]
    #[tool(description = "Counts stars")]
    async fn stars(&self, ctx: AlterContext) -> String {
        format!("{ctx:?}")
    }
}

fn main() {}
