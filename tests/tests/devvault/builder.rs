//! Starting DevVault: configuration checks and bind failures.

use std::time::Duration;

use alter::dev::{DevVault, ProviderConfig, StartError};

#[tokio::test]
async fn invalid_config_lists_every_problem() {
    let valid = ProviderConfig::new(
        "acme",
        "https://auth.example/authorize",
        "https://auth.example/token",
        "client",
    );
    let error = DevVault::builder()
        .provider(valid.clone())
        .provider(valid)
        .provider(ProviderConfig::new(
            "demo",
            "https://x/a",
            "https://x/t",
            "c",
        ))
        .provider(ProviderConfig::new(
            "Bad Id",
            "not a url",
            "https://x/t",
            "c",
        ))
        .user_token_lifetime(Duration::from_secs(u64::MAX))
        .start()
        .await
        .unwrap_err();
    let StartError::InvalidConfig(problems) = &error else {
        panic!("expected InvalidConfig, got {error:?}");
    };
    assert_eq!(problems.len(), 5, "{problems:#?}");
    let message = error.to_string();
    assert!(
        message.contains(r#""acme" is configured twice"#),
        "{message}"
    );
    assert!(message.contains(r#""demo" is reserved"#), "{message}");
    assert!(message.contains(r#"provider id "Bad Id""#), "{message}");
    assert!(
        message.contains(r#"authorization URL "not a url""#),
        "{message}"
    );
    assert!(message.contains("user token lifetime"), "{message}");
}

#[tokio::test]
async fn bind_conflict_is_reported() {
    let occupied = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = occupied.local_addr().unwrap();
    let error = DevVault::builder().bind(address).start().await.unwrap_err();
    assert!(matches!(error, StartError::Bind { .. }), "{error:?}");
    assert!(error.to_string().contains(&address.to_string()), "{error}");
}

#[tokio::test]
async fn extra_provider_is_offered() {
    let acme = ProviderConfig::new(
        "acme",
        "http://127.0.0.1:9/authorize",
        "http://127.0.0.1:9/token",
        "client",
    )
    .client_secret("s3cret")
    .scopes(["read"]);
    assert!(
        !format!("{acme:?}").contains("s3cret"),
        "Debug redacts the client secret"
    );
    let dev = DevVault::builder().provider(acme).start().await.unwrap();
    assert_eq!(
        dev.callback_url(),
        format!("{}/connect/callback", dev.base_url())
    );
    assert!(!format!("{dev:?}").contains(dev.api_key().expose_secret()));
    dev.shutdown().await;
}
