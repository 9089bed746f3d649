#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::handler::server::wrapper::Parameters;
use alter::rmcp::{ErrorData, Json, tool_router};
use alter::{Method, Vault, rmcp, schemars};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, schemars::JsonSchema)]
struct Post {
    text: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Posted {
    id: u64,
}

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
    /// Posts a message.
    #[alter::tool(provider = "demo")]
    async fn post(
        &self,
        ctx: AlterContext,
        Parameters(post): Parameters<Post>,
    ) -> Result<Json<Posted>, ErrorData> {
        if post.text.is_empty() {
            return Err(ErrorData::invalid_params("the text is empty", None));
        }
        let posted = ctx
            .request(Method::POST, "https://api.example.com/messages")
            .json(&serde_json::json!({ "text": post.text }))
            .send()
            .await?
            .json()?;
        Ok(Json(posted))
    }
}

fn main() {
    let tool = Tools::post_tool_attr();
    assert!(tool.output_schema.is_some());
}
