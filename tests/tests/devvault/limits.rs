//! Retries and limits through the SDK's vault client: the bounded retry of a credential
//! request while DevVault reports a token refresh in progress, and DevVault's rate limiting
//! with the client's rate-limit snapshot and `Retry-After`.

use std::time::Duration;

use alter::dev::{DevVault, RateLimitPolicy, TokenRefreshConflicts};
use alter::{Error, Method, Vault, VaultBuilder};

use crate::support::{follow, start};

fn builder(dev: &DevVault) -> VaultBuilder {
    Vault::builder(dev.api_key().expose_secret()).base_url(dev.base_url())
}

/// Connects `user` to the demo provider through the headless connect flow.
async fn connect_demo(dev: &DevVault, vault: &Vault, user: &str) -> Vault {
    let user = vault.with_user_token(dev.user_token(user));
    let session = user.create_connect_session().send().await.unwrap();
    follow(&session.connect_url).await;
    user.wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();
    user
}

#[tokio::test]
async fn refresh_conflict_clears_after_two_retries() {
    let dev = start(true).await;
    let vault = builder(&dev)
        .token_refresh_backoff(Duration::from_millis(5))
        .build()
        .unwrap();
    let alice = connect_demo(&dev, &vault, "alice").await;

    dev.set_token_refresh_conflicts(TokenRefreshConflicts::Next(2));
    let response = alice
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(dev.token_refresh_conflicts_served(), 2);
    vault.flush().await;
    assert_eq!(dev.audit_log().len(), 1, "one provider call, one audit row");
}

#[tokio::test]
async fn refresh_conflict_never_clears() {
    let dev = start(true).await;
    let vault = builder(&dev)
        .token_refresh_retries(3)
        .token_refresh_backoff(Duration::from_millis(5))
        .build()
        .unwrap();
    let alice = connect_demo(&dev, &vault, "alice").await;

    dev.set_token_refresh_conflicts(TokenRefreshConflicts::Always);
    let error = alice
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::TokenRefreshInProgress(_)),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(409));
    assert!(error.is_retryable());
    assert_eq!(
        dev.token_refresh_conflicts_served(),
        4,
        "the first attempt and three retries"
    );
    vault.flush().await;
    assert!(dev.audit_log().is_empty(), "the provider was never called");
}

#[tokio::test]
async fn refresh_retries_can_be_turned_off() {
    let dev = start(true).await;
    let vault = builder(&dev).token_refresh_retries(0).build().unwrap();
    let alice = connect_demo(&dev, &vault, "alice").await;

    dev.set_token_refresh_conflicts(TokenRefreshConflicts::Next(1));
    let error = alice
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::TokenRefreshInProgress(_)),
        "{error:?}"
    );
    assert_eq!(dev.token_refresh_conflicts_served(), 1);
}

#[tokio::test]
async fn retry_settings_are_bounded() {
    let dev = start(true).await;
    let message = builder(&dev)
        .token_refresh_retries(11)
        .token_refresh_backoff(Duration::from_secs(11))
        .build()
        .unwrap_err()
        .to_string();
    assert!(message.contains("at most 10, got 11"), "{message}");
    assert!(message.contains("at most 10 seconds"), "{message}");
}

#[tokio::test]
async fn rate_limit_is_typed_with_retry_after() {
    let dev = DevVault::builder()
        .auto_approve(true)
        .rate_limit(RateLimitPolicy::new(3, Duration::from_secs(3600)))
        .start()
        .await
        .unwrap();
    let vault = builder(&dev).build().unwrap();
    assert_eq!(vault.last_rate_limit(), None);

    for expected_remaining in [2, 1, 0] {
        vault.create_auth_session().await.unwrap();
        let snapshot = vault.last_rate_limit().expect("DevVault sends the headers");
        assert_eq!(snapshot.limit, Some(3));
        assert_eq!(snapshot.remaining, Some(expected_remaining));
        assert!(snapshot.reset_at.is_some());
    }

    let error = vault.create_auth_session().await.unwrap_err();
    let Error::RateLimited(limit) = &error else {
        panic!("expected a rate-limit error, got {error:?}");
    };
    let retry_after = limit.retry_after.expect("Retry-After is surfaced");
    assert!(retry_after >= Duration::from_secs(1), "{retry_after:?}");
    assert!(retry_after <= Duration::from_secs(3600), "{retry_after:?}");
    assert_eq!(error.retry_after(), Some(retry_after));
    assert_eq!(limit.scope.as_deref(), Some("api_key"));
    assert_eq!(limit.limit, Some(3));
    assert_eq!(limit.window_seconds, Some(3600));
    assert!(error.is_retryable());

    // A credential request over the limit fails at once with the same error; it is not
    // retried like a token refresh in progress.
    let alice = vault.with_user_token(dev.user_token("alice"));
    let error = alice
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::RateLimited(_)), "{error:?}");

    dev.set_rate_limit(None).unwrap();
    vault.create_auth_session().await.unwrap();
}

#[tokio::test]
async fn draft_rate_limit_headers_are_read() {
    let dev = start(true).await;
    dev.set_rate_limit(Some(
        RateLimitPolicy::new(5, Duration::from_secs(60)).with_draft_headers(),
    ))
    .unwrap();
    let vault = builder(&dev).build().unwrap();
    vault.create_auth_session().await.unwrap();

    let snapshot = vault.last_rate_limit().unwrap();
    assert_eq!(snapshot.policy.as_deref(), Some("default"));
    assert_eq!(snapshot.limit, Some(5));
    assert_eq!(snapshot.remaining, Some(4));
    assert_eq!(snapshot.window, Some(Duration::from_secs(60)));
    assert!(snapshot.reset_at.is_some());
}

#[tokio::test]
async fn invalid_rate_limit_is_rejected() {
    let dev = start(true).await;
    let error = dev
        .set_rate_limit(Some(RateLimitPolicy::new(0, Duration::from_millis(10))))
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("at least 1 request"), "{message}");
    assert!(message.contains("whole number of seconds"), "{message}");

    let start_error = DevVault::builder()
        .rate_limit(RateLimitPolicy::new(1, Duration::ZERO))
        .start()
        .await
        .unwrap_err();
    assert!(
        start_error.to_string().contains("rate-limit window"),
        "{start_error}"
    );
}
