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
    /// Ignored, because `description` wins.
    #[alter::tool(
        provider = "github",
        label = "work",
        name = "count_stars",
        title = "Stars",
        description = "Counts stars",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn stars(&self, ctx: AlterContext) -> String {
        ctx.provider().unwrap_or_default().to_owned()
    }
}

fn main() {
    let tool = Tools::stars_tool_attr();
    assert_eq!(tool.name, "count_stars");
    assert_eq!(tool.title.as_deref(), Some("Stars"));
    assert_eq!(tool.description.as_deref(), Some("Counts stars"));
    let annotations = tool.annotations.expect("annotations pass through");
    assert_eq!(annotations.read_only_hint, Some(true));
    assert_eq!(annotations.open_world_hint, Some(false));
    assert!(Tools::tool_router().has_route("count_stars"));
}
