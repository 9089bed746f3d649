use alter::mcp::AlterContext;
use alter::rmcp;

struct Tools;

impl Tools {
    #[alter::tool(provider = "github")]
    async fn stars(&self, ctx: AlterContext, other: alter::mcp::AlterContext) -> String {
        format!("{ctx:?} {other:?}")
    }
}

fn main() {}
