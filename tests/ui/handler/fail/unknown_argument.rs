use alter::Vault;

#[alter::handler(requried)]
async fn profile(vault: Vault) -> String {
    format!("{vault:?}")
}

fn main() {}
