use alter::Vault;

#[alter::handler]
#[axum::debug_handler(state = ())]
async fn profile(vault: Vault) -> String {
    format!("{vault:?}")
}

fn main() {}
