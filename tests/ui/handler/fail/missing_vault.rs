use axum::extract::Path;

#[alter::handler]
async fn profile(Path(name): Path<String>) -> String {
    name
}

fn main() {}
