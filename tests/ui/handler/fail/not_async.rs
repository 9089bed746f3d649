use alter::Vault;

#[alter::handler]
fn profile(vault: Vault) -> String {
    format!("{vault:?}")
}

fn main() {}
