use alter::mcp::AlterContext;
use alter::rmcp;

struct Tools;

impl Tools {
    #[alter::tool(provider = "github", label = "")]
    async fn stars(&self, ctx: AlterContext) -> String {
        format!("{ctx:?}")
    }
}

fn main() {}
