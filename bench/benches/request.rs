//! The SDK's own cost of one `request()`: validation, the signed `POST /sdk/token`, token
//! response checks, injection, the provider call and the audit row, against an in-process
//! transport that responds from memory. Divan's counting allocator reports the allocations.
//!
//! ```sh
//! cargo bench -p alter-bench --bench request
//! ```

use alter::Method;
use alter::protocol::signing::{RequestToSign, SigningKey};
use alter_bench::canned::{API_KEY, PROVIDER_URL, canned_vault};

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// A user token of realistic length; the canned backend does not read it.
const USER_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiZW5jaC11c2VyIiwiaXNzIjoiYWx0ZXItZGV2IiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJlLW9mLWEtYmVuY2gtdG9rZW4tMDEyMzQ1Njc4OQ";

fn main() {
    divan::main();
}

/// Measures one whole `request()` and a flush, so that the audit row is sent within the
/// iteration.
#[divan::bench]
fn request_with_audit(bencher: divan::Bencher<'_, '_>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts");
    let vault = runtime.block_on(async { canned_vault().expect("the canned vault builds") });
    let user = vault.with_user_token(USER_TOKEN);
    bencher.bench_local(|| {
        runtime.block_on(async {
            let response = user
                .request(Method::GET, PROVIDER_URL)
                .provider("demo")
                .reason("answer a chat message")
                .send()
                .await
                .expect("the canned request succeeds");
            let profile: serde_json::Value = response.json().expect("the canned body is JSON");
            user.flush().await;
            profile
        })
    });
}

/// Measures the HMAC signature of one backend request alone, for comparison with the whole
/// request.
#[divan::bench]
fn sign_token_request(bencher: divan::Bencher<'_, '_>) {
    let key = SigningKey::derive(API_KEY);
    let body = br#"{"provider_id":"demo","reason":"answer a chat message","request":{"method":"GET","url":"https://api.demo.example/me"},"user_token":"eyJ"}"#;
    bencher.bench_local(|| {
        key.sign_request(&RequestToSign {
            method: "POST",
            path_and_query: "/sdk/token",
            body,
            timestamp: 1_700_000_000,
            nonce: "00112233445566778899aabbccddeeff",
            scope_constraints: "",
            request_rule: "",
            identity: Default::default(),
        })
    });
}
