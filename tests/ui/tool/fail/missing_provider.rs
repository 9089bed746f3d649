use alter::mcp::AlterContext;
use alter::rmcp;

struct Tools;

impl Tools {
    #[alter::tool(description = "Counts stars")]
    async fn stars(&self, ctx: AlterContext) -> String {
        format!("{ctx:?}")
    }
}

fn main() {}
