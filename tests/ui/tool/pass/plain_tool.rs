#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::{tool, tool_router};
use alter::{Method, Vault, rmcp};

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
    /// Uses the context as a plain rmcp extractor.
    #[tool]
    async fn me(&self, ctx: AlterContext) -> Result<String, alter::Error> {
        let response = ctx
            .with_provider("github")
            .request(Method::GET, "https://api.github.com/user")
            .send()
            .await?;
        Ok(response.text()?.to_owned())
    }
}

fn main() {
    assert!(Tools::tool_router().has_route("me"));
}
