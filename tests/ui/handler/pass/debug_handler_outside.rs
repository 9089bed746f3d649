#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::Vault;
use alter::axum::AlterAxum;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

#[axum::debug_handler]
#[alter::handler(optional)]
async fn profile(State(_alter): State<AlterAxum>, vault: Vault) -> String {
    format!("{}", vault.bound_user_token().is_some())
}

fn main() {
    let _router: Router<AlterAxum> = Router::new().route("/", get(profile));
}
