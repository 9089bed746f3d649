type UserVault = alter::Vault;

#[alter::handler]
async fn profile(vault: UserVault) -> String {
    format!("{vault:?}")
}

fn main() {}
