#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::axum::AlterAxum;
use axum::Router;
use axum::routing::get;

#[alter::handler(optional)]
async fn greeting(vault: alter::Vault) -> &'static str {
    match vault.bound_user_token() {
        Some(_) => "welcome back",
        None => "hello, guest",
    }
}

fn main() {
    let _router: Router<AlterAxum> = Router::new().route("/", get(greeting));
}
