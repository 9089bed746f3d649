#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::tool_router;
use alter::{Vault, rmcp};

struct Tools {
    vault: Vault,
}

impl HasVault for Tools {
    fn vault(&self) -> &Vault {
        &self.vault
    }
}

#[tool_router]
impl Tools {
    /// Returns the user's label.
    #[alter::tool(provider = "github", label = "work")]
    async fn label(_ctx: AlterContext) -> String {
        "work".to_owned()
    }
}

fn main() {
    assert!(Tools::tool_router().has_route("label"));
}
