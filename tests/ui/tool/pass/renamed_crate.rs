#![deny(warnings, rust_2018_idioms, unused_qualifications)]

extern crate alter as my_alter;

use my_alter::mcp::{AlterContext, HasVault};
use my_alter::rmcp;
use my_alter::rmcp::tool_router;

struct Tools {
    vault: my_alter::Vault,
}

impl HasVault for Tools {
    fn vault(&self) -> &my_alter::Vault {
        &self.vault
    }
}

#[tool_router]
impl Tools {
    /// Names the provider.
    #[my_alter::tool(crate = "my_alter", provider = "github")]
    async fn provider(&self, ctx: AlterContext) -> String {
        ctx.provider().unwrap_or_default().to_owned()
    }
}

fn main() {
    assert!(Tools::tool_router().has_route("provider"));
}
