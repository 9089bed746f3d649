use alter::Vault;

#[alter::handler(optional, optional)]
async fn profile(vault: Vault) -> String {
    format!("{vault:?}")
}

fn main() {}
