#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::axum::AlterAxum;
use axum::Router;
use axum::routing::get;

async fn helper() -> bool {
    alter::identity::current().is_some()
}

#[alter::handler]
async fn scoped_only(_: ::alter::Vault) -> String {
    helper().await.to_string()
}

fn main() {
    let _router: Router<AlterAxum> = Router::new().route("/", get(scoped_only));
}
