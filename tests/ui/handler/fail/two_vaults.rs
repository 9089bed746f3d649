use alter::Vault;

#[alter::handler]
async fn profile(vault: Vault, other: alter::Vault) -> String {
    format!("{vault:?} {other:?}")
}

fn main() {}
