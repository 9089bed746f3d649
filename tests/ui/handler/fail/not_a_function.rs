#[alter::handler]
struct Profile {
    name: String,
}

fn main() {}
