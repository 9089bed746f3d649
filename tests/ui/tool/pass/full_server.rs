#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::handler::server::router::tool::ToolRouter;
use alter::rmcp::handler::server::wrapper::Parameters;
use alter::rmcp::{Json, ServerHandler, tool_handler, tool_router};
use alter::{Method, Vault, rmcp, schemars};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, schemars::JsonSchema)]
struct RepoQuery {
    /// The repository, as `owner/name`.
    repo: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Stars {
    stars: u64,
}

#[derive(Clone)]
struct Tools {
    vault: Vault,
    tool_router: ToolRouter<Self>,
}

impl HasVault for Tools {
    fn vault(&self) -> &Vault {
        &self.vault
    }
}

#[tool_router]
impl Tools {
    /// Counts the stars of a repository.
    #[alter::tool(provider = "github")]
    async fn stars(
        &self,
        ctx: AlterContext,
        Parameters(query): Parameters<RepoQuery>,
    ) -> Result<Json<Stars>, alter::Error> {
        let repo: serde_json::Value = ctx
            .request(Method::GET, format!("https://api.github.com/repos/{}", query.repo))
            .send()
            .await?
            .json()?;
        Ok(Json(Stars {
            stars: repo["stargazers_count"].as_u64().unwrap_or(0),
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {}

fn main() {
    let router = Tools::tool_router();
    let stars = router.get("stars").expect("the tool is registered");
    assert_eq!(
        stars.description.as_deref(),
        Some("Counts the stars of a repository.")
    );
    assert!(stars.output_schema.is_some());
    let input = serde_json::Value::Object((*stars.input_schema).clone());
    assert_eq!(input["required"], serde_json::json!(["repo"]));
    let _ = |vault: Vault| Tools { vault, tool_router: router };
}
