use alter::Vault;

#[alter::handler(crate = alter)]
async fn profile(vault: Vault) -> String {
    format!("{vault:?}")
}

fn main() {}
