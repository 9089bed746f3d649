//! An [`AlterAxum`] for tests that never reach the backend.

use alter::axum::AlterAxum;

/// A valid application key (its checksum matches) that no backend ever receives.
pub const APP_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";

/// Builds an [`AlterAxum`] whose backend URL points at a closed port on `127.0.0.1`, so that a
/// call that did reach the network would fail with a connection error instead of leaving the
/// machine.
///
/// # Panics
///
/// Panics when no port can be reserved or the vault cannot be built.
pub fn offline_alter() -> AlterAxum {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let address = closed.local_addr().expect("read the bound address");
    drop(closed);
    AlterAxum::new(APP_KEY)
        .base_url(format!("http://{address}"))
        .caller("alter-tests")
        .build()
        .expect("build the offline vault")
}
