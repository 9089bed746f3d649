#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::Vault;
use alter::axum::AlterAxum;
use axum::Router;
use axum::extract::Path;
use axum::response::IntoResponse;
use axum::routing::get;

#[alter::handler]
async fn connect(
    Path(provider): Path<String>,
    vault: Vault,
) -> Result<impl IntoResponse, alter::Error> {
    if provider.is_empty() {
        return Ok(String::from("no provider"));
    }
    let session = vault
        .create_connect_session()
        .allowed_providers([provider])
        .send()
        .await?;
    Ok(session.connect_url)
}

fn main() {
    let _router: Router<AlterAxum> = Router::new().route("/connect/{provider}", get(connect));
}
