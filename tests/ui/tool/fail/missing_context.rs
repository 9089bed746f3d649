use alter::rmcp;

struct Tools;

impl Tools {
    #[alter::tool(provider = "github")]
    async fn stars(&self) -> String {
        String::new()
    }
}

fn main() {}
