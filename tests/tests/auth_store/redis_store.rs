//! Guarantees of the Redis store beyond the contract: what Redis stores at rest, key prefixes,
//! the shared encryption key, connection errors and outages.

use std::process::Command;
use std::time::Duration;

use alter::Error;
use alter::mcp::auth::redis::{EncryptionKey, RedisStore};
use alter::mcp::auth::store::{AuthStore, CodeRedemption, SecretHash, SignInOutcome, StoreError};
use alter_tests::redis_server::{RedisServer, dump_keyspace};
use redis::Commands as _;

use crate::fixtures::{self, code, family, issued, next, now, pending, secret, user};
use crate::redis_kind::start_server;

async fn connect(server: &RedisServer, key: &EncryptionKey) -> RedisStore {
    RedisStore::builder(server.url(), key.clone())
        .command_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect the store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_absent_from_keyspace() {
    let server = start_server().await;
    let store = connect(&server, &EncryptionKey::generate()).await;
    let signed_in = user();
    let mut secrets = vec![signed_in.expose_secret().to_owned()];

    store
        .insert_client(fixtures::client("client-1"))
        .await
        .unwrap();
    // One authorization still waiting with a signed-in outcome, one exchanged for a code
    // that stays unredeemed, and one whose code is redeemed.
    let mut codes = Vec::new();
    for _ in 0..3 {
        let handle = secret("handle");
        let record = pending(now() + 300);
        secrets.push(handle.clone());
        secrets.push(record.sign_in_session.expose_secret().to_owned());
        store
            .insert_pending(SecretHash::of(&handle), record)
            .await
            .unwrap();
        store
            .set_outcome(
                SecretHash::of(&handle),
                SignInOutcome::SignedIn(signed_in.clone()),
            )
            .await
            .unwrap();
        let code_value = secret("code");
        secrets.push(code_value.clone());
        codes.push((handle, code_value));
    }
    for (handle, code_value) in &codes[1..] {
        let exchanged = store
            .exchange_pending_for_code(
                SecretHash::of(handle),
                SecretHash::of(code_value),
                code(family(), signed_in.clone(), now() + 300),
            )
            .await
            .unwrap();
        assert!(exchanged);
    }
    let redeemed = store
        .redeem_code(SecretHash::of(&codes[2].1))
        .await
        .unwrap();
    assert!(matches!(redeemed, CodeRedemption::Redeemed(_)));

    let access = secret("alter_at");
    let refresh = secret("alter_rt");
    secrets.push(access.clone());
    secrets.push(refresh.clone());
    let token_family = family();
    let mut tokens = issued(&token_family, &signed_in);
    tokens.access_hash = SecretHash::of(&access);
    tokens.refresh_hash = SecretHash::of(&refresh);
    store.insert_tokens(tokens).await.unwrap();
    let rotated_refresh = secret("alter_rt");
    secrets.push(rotated_refresh.clone());
    let mut rotated = next(&["mcp"]);
    rotated.refresh_hash = SecretHash::of(&rotated_refresh);
    store
        .rotate_refresh(SecretHash::of(&refresh), rotated, now(), 30)
        .await
        .unwrap();

    let keyspace = dump_keyspace(&mut server.connection());
    assert!(keyspace.len() > 10, "the run stored records: {keyspace:?}");
    for (key, value) in &keyspace {
        for secret in &secrets {
            assert!(!key.contains(secret.as_str()), "a secret in the key {key}");
            assert!(
                !value.contains(secret.as_str()),
                "a secret in the value of {key}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_carry_expiry() {
    let server = start_server().await;
    let store = connect(&server, &EncryptionKey::generate()).await;
    store
        .insert_client(fixtures::client("client-1"))
        .await
        .unwrap();
    let handle = SecretHash::of(&secret("handle"));
    store
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let exchanged_handle = SecretHash::of(&secret("handle"));
    store
        .insert_pending(exchanged_handle, pending(now() + 300))
        .await
        .unwrap();
    store
        .exchange_pending_for_code(
            exchanged_handle,
            SecretHash::of(&secret("code")),
            code(family(), user(), now() + 300),
        )
        .await
        .unwrap();
    store
        .insert_tokens(issued(&family(), &user()))
        .await
        .unwrap();

    let mut connection = server.connection();
    let keys: Vec<String> = connection.keys("*").unwrap();
    for key in keys {
        let ttl: i64 = connection.ttl(&key).unwrap();
        let lives_forever =
            key.starts_with("alter:mcp-auth:client:") || key.starts_with("alter:mcp-auth:index:");
        if lives_forever {
            assert_eq!(ttl, -1, "{key} has no expiry");
        } else {
            assert!(ttl > 0, "{key} expires, its TTL is {ttl}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_separates_apps() {
    let server = start_server().await;
    let key = EncryptionKey::generate();
    let first = RedisStore::builder(server.url(), key.clone())
        .prefix("app-one:")
        .connect()
        .await
        .unwrap();
    let second = RedisStore::builder(server.url(), key)
        .prefix("app-two:")
        .connect()
        .await
        .unwrap();
    assert_eq!(first.prefix(), "app-one:");
    let tokens = issued(&family(), &user());
    first.insert_tokens(tokens.clone()).await.unwrap();
    first
        .insert_client(fixtures::client("client-1"))
        .await
        .unwrap();

    assert!(
        second
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(second.client("client-1").await.unwrap().is_none());
    assert!(
        first
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_some()
    );
    let keys: Vec<String> = server.connection().keys("*").unwrap();
    for key in keys {
        assert!(key.starts_with("app-one:"), "{key} is under the prefix");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_records() {
    let server = start_server().await;
    let key = EncryptionKey::generate();
    let replica_a = connect(&server, &key).await;
    let replica_b = connect(&server, &key).await;
    let handle = SecretHash::of(&secret("handle"));
    replica_a
        .insert_pending(handle, pending(now() + 300))
        .await
        .unwrap();
    let code_hash = SecretHash::of(&secret("code"));
    let exchanged = replica_b
        .exchange_pending_for_code(handle, code_hash, code(family(), user(), now() + 300))
        .await
        .unwrap();
    assert!(exchanged);

    let (on_a, on_b) = tokio::join!(
        replica_a.redeem_code(code_hash),
        replica_b.redeem_code(code_hash)
    );
    let results = [on_a.unwrap(), on_b.unwrap()];
    let redeemed = results
        .iter()
        .filter(|result| matches!(result, CodeRedemption::Redeemed(_)))
        .count();
    let replayed = results
        .iter()
        .filter(|result| matches!(result, CodeRedemption::Replayed(_)))
        .count();
    assert_eq!(redeemed, 1, "{results:?}");
    assert_eq!(replayed, 1, "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_key_cannot_read() {
    let server = start_server().await;
    let writer = connect(&server, &EncryptionKey::generate()).await;
    let reader = connect(&server, &EncryptionKey::generate()).await;
    let tokens = issued(&family(), &user());
    writer.insert_tokens(tokens.clone()).await.unwrap();

    let error = reader.access_token(tokens.access_hash).await.unwrap_err();
    let StoreError::Unavailable(message) = &error else {
        panic!("expected an unavailable store, got {error:?}");
    };
    assert!(message.contains("same encryption key"), "{message}");
    assert!(
        writer
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_redis_fails_then_recovers() {
    let mut server = start_server().await;
    let store = connect(&server, &EncryptionKey::generate()).await;
    store
        .insert_client(fixtures::client("client-1"))
        .await
        .unwrap();

    server.stop();
    let error = store.client("client-1").await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    let error = store
        .insert_tokens(issued(&family(), &user()))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");

    let server = tokio::task::spawn_blocking(move || {
        server.start_again();
        server
    })
    .await
    .unwrap();
    // The restarted server is empty: it persists nothing. Scripts load again on NOSCRIPT.
    assert!(store.client("client-1").await.unwrap().is_none());
    let tokens = issued(&family(), &user());
    store.insert_tokens(tokens.clone()).await.unwrap();
    assert!(
        store
            .access_token(tokens.access_hash)
            .await
            .unwrap()
            .is_some()
    );
    drop(server);
}

/// Sends `signal` to the process `pid` with `kill(1)`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_times_out_then_recovers() {
    let server = start_server().await;
    let store = connect(&server, &EncryptionKey::generate()).await;
    let tokens = issued(&family(), &user());
    store.insert_tokens(tokens.clone()).await.unwrap();
    let pid = server.pid().expect("the server runs");

    signal(pid, "-STOP");
    let result = store.access_token(tokens.access_hash).await;
    signal(pid, "-CONT");
    let error = result.unwrap_err();
    let StoreError::Unavailable(message) = &error else {
        panic!("expected an unavailable store, got {error:?}");
    };
    assert!(
        message.contains("redis timed out after 500 ms"),
        "{message}"
    );

    let mut recovered = None;
    for _ in 0..20 {
        match store.access_token(tokens.access_hash).await {
            Ok(grant) => {
                recovered = Some(grant);
                break;
            }
            Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    let grant = recovered.expect("the store answers again once redis resumes");
    assert!(grant.is_some());
}

#[tokio::test]
async fn connect_rejects_bad_configuration() {
    let key = EncryptionKey::generate();
    let error = RedisStore::connect("http://127.0.0.1:1", key.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("invalid Redis URL"), "{error}");

    let error = RedisStore::connect("rediss://127.0.0.1:1", key.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("TLS"), "{error}");

    let error = RedisStore::builder("redis://127.0.0.1:1", key.clone())
        .prefix("")
        .connect()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("invalid Redis key prefix"),
        "{error}"
    );

    let error = RedisStore::builder("redis://127.0.0.1:1", key.clone())
        .prefix("my app:")
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("without whitespace"), "{error}");

    let error = RedisStore::builder("redis://127.0.0.1:1", key)
        .command_timeout(Duration::ZERO)
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("timeout is zero"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reports_unreachable_redis() {
    let mut server = start_server().await;
    let url = server.url();
    server.stop();

    let error = RedisStore::builder(
        url.replace("redis://", "redis://:hunter2-password@"),
        EncryptionKey::generate(),
    )
    .command_timeout(Duration::from_millis(500))
    .connect()
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::Network { .. } | Error::Timeout { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(!message.contains("hunter2-password"), "{message}");
}
