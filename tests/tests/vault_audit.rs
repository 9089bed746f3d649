//! Audit rows on graceful stop: `flush` waits for every row still in flight, and each of many
//! concurrent calls leaves exactly one correctly signed row with its own fields.

use std::collections::HashSet;
use std::time::Duration;

use alter::{Method, Vault};
use alter_tests::stand_in::fixtures::{
    AUDIT_PATH, GRANT_ID, PROVIDER_ID, TOKEN_GENERATION, TOKEN_PATH, USER_TOKEN, api_key, bounded,
    vault_builder,
};
use alter_tests::stand_in::{Gate, Reply, StandIn};
use serde_json::{Value, json};

const CALLS: usize = 24;

/// The audit row keys, in the order the backend expects.
const ROW_KEYS: [&str; 13] = [
    "grant_id",
    "provider_id",
    "token_generation",
    "method",
    "url",
    "request_headers",
    "request_body",
    "response_status",
    "response_headers",
    "response_body",
    "latency_ms",
    "reason",
    "context",
];

struct Setup {
    backend: StandIn,
    provider: StandIn,
    vault: Vault,
}

async fn setup() -> Setup {
    let backend = StandIn::backend().await;
    let provider = StandIn::provider().await;
    let vault = vault_builder(&backend)
        .build()
        .unwrap()
        .with_user_token(USER_TOKEN);
    Setup {
        backend,
        provider,
        vault,
    }
}

/// Sends call `index`: even calls GET and get 200, odd calls POST a JSON body and get 404.
async fn send_call(vault: Vault, provider_url: String, index: usize) -> Result<u16, alter::Error> {
    let mut request = if index.is_multiple_of(2) {
        vault.request(Method::GET, provider_url)
    } else {
        vault
            .request(Method::POST, provider_url)
            .json(&json!({ "index": index }))
    };
    request = request
        .provider(PROVIDER_ID)
        .header("X-Call-Index", index.to_string())
        .reason(format!("call {index}"))
        .context("job", format!("job-{index}"));
    match request.send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(alter::Error::Provider(error)) => Ok(error.status),
        Err(other) => Err(other),
    }
}

#[tokio::test]
async fn flush_waits_for_every_row() {
    let setup = setup().await;
    let gate = Gate::new();
    setup
        .backend
        .script(AUDIT_PATH, Reply::empty(204).gated(&gate));
    for index in (1..CALLS).step_by(2) {
        setup.provider.script(
            &format!("/items/{index}"),
            Reply::json(404, &json!({ "message": "not found" })),
        );
    }

    let calls: Vec<_> = (0..CALLS)
        .map(|index| {
            let url = setup.provider.url_of(&format!("/items/{index}"));
            tokio::spawn(send_call(setup.vault.clone(), url, index))
        })
        .collect();
    for (index, call) in calls.into_iter().enumerate() {
        let status = bounded(call).await.unwrap().unwrap();
        let expected = if index.is_multiple_of(2) { 200 } else { 404 };
        assert_eq!(status, expected, "call {index}");
    }

    // Every call returned while its audit row is still held at the gate, so flush cannot
    // finish until the gate opens.
    let flush = tokio::spawn({
        let vault = setup.vault.clone();
        async move { vault.flush().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!flush.is_finished(), "flush returned with rows in flight");
    gate.open();
    bounded(flush).await.unwrap();

    let audit = setup.backend.received_at(AUDIT_PATH);
    assert_eq!(audit.len(), CALLS);
    assert!(
        !audit[0].has_valid_signature("alter_rk_another_key"),
        "the signature check accepts any key"
    );
    let mut seen = HashSet::new();
    let mut nonces = HashSet::new();
    for received in &audit {
        assert!(
            received.has_valid_signature(&api_key()),
            "unsigned audit row"
        );
        assert!(nonces.insert(received.header("x-alter-nonce").unwrap().to_owned()));
        let row = received.json();
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ROW_KEYS);

        let url = row["url"].as_str().unwrap();
        let index: usize = url.rsplit('/').next().unwrap().parse().unwrap();
        assert!(seen.insert(index), "two rows for call {index}");
        assert_row(&setup, &row, index);
        assert_eq!(
            received.header("x-alter-context"),
            Some(format!(r#"{{"job":"job-{index}"}}"#).as_str())
        );
    }
    assert_eq!(seen.len(), CALLS);
    assert_eq!(setup.backend.received_at(TOKEN_PATH).len(), CALLS);
}

fn assert_row(setup: &Setup, row: &Value, index: usize) {
    let odd = !index.is_multiple_of(2);
    assert_eq!(row["grant_id"], GRANT_ID);
    assert_eq!(row["provider_id"], PROVIDER_ID);
    assert_eq!(row["token_generation"], TOKEN_GENERATION);
    assert_eq!(row["method"], if odd { "POST" } else { "GET" });
    assert_eq!(
        row["url"],
        setup.provider.url_of(&format!("/items/{index}"))
    );

    let headers = row["request_headers"].as_object().unwrap();
    assert_eq!(headers["X-Call-Index"], index.to_string());
    assert!(
        headers["User-Agent"]
            .as_str()
            .unwrap()
            .starts_with("alter-sdk-rust/")
    );
    assert!(
        !headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("authorization")),
        "the credential header was recorded: {headers:?}"
    );

    if odd {
        assert_eq!(row["request_body"], json!({ "index": index }));
        assert_eq!(row["response_status"], 404);
        assert_eq!(row["response_body"], r#"{"message":"not found"}"#);
    } else {
        assert_eq!(row["request_body"], Value::Null);
        assert_eq!(row["response_status"], 200);
        assert_eq!(row["response_body"], r#"{"ok":true}"#);
    }

    assert_eq!(row["response_headers"]["content-type"], "application/json");
    assert!(row["latency_ms"].is_u64());
    assert_eq!(row["reason"], format!("call {index}"));
    assert_eq!(row["context"], json!({ "job": format!("job-{index}") }));
}

#[tokio::test]
async fn queue_usable_after_flush() {
    let setup = setup().await;
    bounded(setup.vault.flush()).await;
    for round in 1..=3 {
        bounded(
            setup
                .vault
                .request(Method::GET, setup.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
        .unwrap();
        bounded(setup.vault.flush()).await;
        assert_eq!(setup.backend.received_at(AUDIT_PATH).len(), round);
    }
}

#[tokio::test]
async fn clones_share_one_queue() {
    let setup = setup().await;
    let gate = Gate::new();
    setup
        .backend
        .script(AUDIT_PATH, Reply::empty(204).gated(&gate));
    let other_handle = setup.vault.with_user_token("another-user");
    bounded(
        other_handle
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap();
    drop(other_handle);

    let flush = tokio::spawn({
        let vault = setup.vault.clone();
        async move { vault.flush().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !flush.is_finished(),
        "flush on one clone ignored a row scheduled by another"
    );
    gate.open();
    bounded(flush).await.unwrap();
    assert_eq!(setup.backend.received_at(AUDIT_PATH).len(), 1);
}

#[tokio::test]
async fn no_row_without_provider_call() {
    let setup = setup().await;
    setup.backend.script(
        TOKEN_PATH,
        Reply::json(
            404,
            &json!({ "error": "grant_not_found", "provider_id": PROVIDER_ID }),
        ),
    );
    let error = bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, alter::Error::GrantNotFound(_)), "{error:?}");
    assert!(error.needs_connect_session());
    setup.vault.flush().await;
    assert!(setup.backend.received_at(AUDIT_PATH).is_empty());
    assert!(setup.provider.received().is_empty());
}

#[tokio::test]
async fn large_and_binary_bodies_described() {
    let setup = setup().await;
    setup
        .provider
        .script("/large", Reply::raw(200, "text/plain", "a".repeat(10_001)));
    setup.provider.script(
        "/binary",
        Reply::raw(
            200,
            "application/octet-stream",
            vec![0xff_u8, 0xfe, 0x00, 0x41],
        ),
    );
    setup
        .provider
        .script("/limit", Reply::raw(200, "text/plain", "b".repeat(10_000)));

    for path in ["/large", "/binary", "/limit"] {
        bounded(
            setup
                .vault
                .request(Method::POST, setup.provider.url_of(path))
                .provider(PROVIDER_ID)
                .body(vec![0xc3_u8, 0x28])
                .send(),
        )
        .await
        .unwrap();
    }

    setup.vault.flush().await;
    let rows: Vec<Value> = setup
        .backend
        .received_at(AUDIT_PATH)
        .iter()
        .map(alter_tests::stand_in::Received::json)
        .collect();
    assert_eq!(rows.len(), 3);
    let row_for = |path: &str| {
        rows.iter()
            .find(|row| row["url"] == setup.provider.url_of(path))
            .unwrap_or_else(|| panic!("no row for {path}"))
    };

    assert_eq!(
        row_for("/large")["response_body"],
        "<response too large: 10001 bytes>"
    );
    assert_eq!(
        row_for("/binary")["response_body"],
        "<binary response: 4 bytes>"
    );
    assert_eq!(row_for("/limit")["response_body"], "b".repeat(10_000));
    assert_eq!(row_for("/limit")["request_body"], "<binary body: 2 bytes>");
}

#[tokio::test]
async fn caller_credential_headers_replaced_and_not_audited() {
    let setup = setup().await;
    bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .header("authorization", "Bearer caller-chosen")
            .header("Cookie", "session=caller-cookie")
            .header("X-Trace", "t-1")
            .send(),
    )
    .await
    .unwrap();
    let received = &setup.provider.received_at("/user")[0];
    let authorization: Vec<_> = received.headers.get_all("authorization").iter().collect();
    assert_eq!(
        authorization.len(),
        1,
        "the credential header was sent twice"
    );
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {}", alter_tests::stand_in::fixtures::ACCESS_TOKEN).as_str())
    );

    setup.vault.flush().await;
    let row = setup.backend.received_at(AUDIT_PATH)[0].json();
    let headers = row["request_headers"].as_object().unwrap();
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    assert_eq!(names, ["X-Trace", "User-Agent"]);
}

/// Runs many rounds of concurrent flushes. One flush reopening the queue between another
/// flush's close and wait would leave that flush waiting forever, which `bounded` turns into a
/// failure. The interleaving is a race, so one round rarely hits it and many rounds almost
/// always do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_flushes_all_return() {
    let setup = setup().await;
    bounded(async {
        for _ in 0..60_000 {
            let flushes: Vec<_> = (0..3)
                .map(|_| {
                    let vault = setup.vault.clone();
                    tokio::spawn(async move { vault.flush().await })
                })
                .collect();
            for flush in flushes {
                flush.await.unwrap();
            }
        }
    })
    .await;
}
