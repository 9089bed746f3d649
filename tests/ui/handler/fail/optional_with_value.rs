use alter::Vault;

#[alter::handler(optional = true)]
async fn profile(vault: Vault) -> String {
    format!("{vault:?}")
}

fn main() {}
