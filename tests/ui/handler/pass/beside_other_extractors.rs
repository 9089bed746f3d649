#![deny(warnings, rust_2018_idioms, unused_qualifications)]

use alter::Vault;
use alter::axum::AlterAxum;
use axum::extract::{FromRef, Path, Query, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

#[derive(Clone)]
struct AppState {
    alter: AlterAxum,
    greeting: String,
}

impl FromRef<AppState> for AlterAxum {
    fn from_ref(state: &AppState) -> Self {
        state.alter.clone()
    }
}

#[derive(Deserialize)]
struct Page {
    page: u32,
}

#[alter::handler]
async fn greet(
    State(state): State<AppState>,
    Path(name): Path<String>,
    vault: Vault,
    Query(page): Query<Page>,
    Json(note): Json<String>,
) -> Json<String> {
    let user = vault.bound_user_token().is_some();
    Json(format!(
        "{} {name} {} {note} {user}",
        state.greeting, page.page
    ))
}

fn main() {
    let _router: Router<AppState> = Router::new().route("/greet/{name}", post(greet));
}
