//! Review findings about provider URLs: a user name or password written into the URL.

use alter::dev::DevVault;
use alter::{Error, Method, Vault};

/// Connects `alice` to the demo provider and returns DevVault with a vault acting for her.
async fn connected_alice() -> (DevVault, Vault) {
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
    (dev, vault)
}

#[tokio::test]
async fn userinfo_rejected_before_token_fetch() {
    let (dev, vault) = connected_alice().await;
    let me = format!("{}/me", dev.demo_api_url());
    for url in [
        me.replace("http://", "http://user:hunter2@"),
        me.replace("http://", "http://hunter2@"),
        me.replace("http://", "http://:hunter2@"),
    ] {
        let error = vault
            .request(Method::GET, &url)
            .provider("demo")
            .send()
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, Error::InvalidRequest(_)),
            "{url}: {error:?}"
        );
        assert!(message.contains("user name or password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    vault.flush().await;
    let rows = dev.audit_log();
    assert!(rows.is_empty(), "a provider call was made: {rows:?}");
    dev.shutdown().await;
}
