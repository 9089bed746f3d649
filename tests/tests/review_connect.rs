//! Review findings about waiting for a connect session.

use std::time::Duration;

use alter::Vault;
use alter::dev::DevVault;

#[tokio::test]
async fn wait_accepts_unbounded_timeout() {
    let dev = DevVault::builder()
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let vault = Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .unwrap()
        .with_user_token(dev.user_token("alice"));
    let session = vault.create_connect_session().send().await.unwrap();
    let page = reqwest::get(&session.connect_url).await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());

    let grants = vault
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::MAX)
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].provider_id, "demo");
    dev.shutdown().await;
}
