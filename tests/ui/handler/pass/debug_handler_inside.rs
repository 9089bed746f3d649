#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::Vault;
use alter::axum::AlterAxum;
use axum::Router;
use axum::routing::get;

#[alter::handler]
#[axum::debug_handler(state = AlterAxum)]
async fn profile(vault: Vault) -> String {
    format!("{}", vault.bound_user_token().is_some())
}

fn main() {
    let _router: Router<AlterAxum> = Router::new().route("/", get(profile));
}
