#![deny(warnings, rust_2018_idioms, unused_qualifications)]

extern crate alter as my_alter;

use axum::Router;
use axum::routing::get;
use my_alter::axum::AlterAxum;

#[my_alter::handler(crate = "my_alter")]
async fn profile(mut vault: my_alter::Vault) -> &'static str {
    vault = vault.clone();
    if vault.bound_user_token().is_some() {
        "user"
    } else {
        "none"
    }
}

fn main() {
    let _router: Router<AlterAxum> = Router::new().route("/", get(profile));
}
