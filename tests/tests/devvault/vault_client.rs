//! The SDK's own vault client against DevVault: retrieval, connect sessions, audit rows and the
//! typed errors each DevVault error body maps to.

use std::time::Duration;

use alter::error::ConnectErrorKind;
use alter::{Error, Method, Vault};
use serde_json::Value;

use crate::support::{follow, start};

fn vault(dev: &alter::dev::DevVault) -> Vault {
    Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .caller("devvault-test")
        .build()
        .expect("the vault accepts DevVault's key and URL")
}

#[tokio::test]
async fn vault_connects_and_calls_demo_api() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = vault.with_user_token(dev.user_token("alice"));
    let me_url = format!("{}/me", dev.demo_api_url());

    let missing = alice
        .request(Method::GET, &me_url)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::GrantNotFound(_)), "{missing:?}");
    assert_eq!(missing.provider_id(), Some("demo"));
    assert!(missing.needs_connect_session());

    let session = alice
        .create_connect_session()
        .allowed_providers(["demo"])
        .send()
        .await
        .unwrap();
    assert_eq!(session.expires_in, Duration::from_secs(600));
    let page = follow(&session.connect_url).await;
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let grants = alice
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].provider_id, "demo");
    assert_eq!(grants[0].account_identifier.as_deref(), Some("alice"));

    let response = alice
        .request(Method::GET, &me_url)
        .provider("demo")
        .reason("profile")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().unwrap();
    assert_eq!(me["user"], "alice");

    vault.flush().await;
    let log = dev.audit_log();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].user, "alice");
    assert_eq!(log[0].url, me_url);
    assert_eq!(log[0].response_status, 200);
    assert_eq!(log[0].reason.as_deref(), Some("profile"));
    assert_eq!(log[0].caller.as_deref(), Some("devvault-test"));
}

#[tokio::test]
async fn vault_maps_devvault_errors() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let me_url = format!("{}/me", dev.demo_api_url());

    let expired = vault
        .with_user_token(dev.expired_user_token("alice"))
        .request(Method::GET, &me_url)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(expired, Error::UserTokenRejected(_)),
        "{expired:?}"
    );

    let alice = vault.with_user_token(dev.user_token("alice"));
    for label in ["work", "personal"] {
        let session = alice
            .create_connect_session()
            .label(label)
            .send()
            .await
            .unwrap();
        follow(&session.connect_url).await;
    }
    let ambiguous = alice
        .request(Method::GET, &me_url)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    let Error::AmbiguousGrant(details) = &ambiguous else {
        panic!("expected AmbiguousGrant, got {ambiguous:?}");
    };
    assert_eq!(details.candidates.len(), 2);
    let labelled = alice
        .request(Method::GET, &me_url)
        .provider("demo")
        .label("work")
        .send()
        .await
        .unwrap();
    assert_eq!(labelled.status().as_u16(), 200);

    let foreign = Vault::builder("alter_rk_abcdefghijklmnopqrstuv_iwpykn")
        .base_url(dev.base_url())
        .build()
        .unwrap()
        .with_user_token(dev.user_token("alice"))
        .request(Method::GET, &me_url)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(foreign, Error::KeyRejected(_)), "{foreign:?}");
}

#[tokio::test]
async fn vault_reports_declined_connect() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let alice = vault.with_user_token(dev.user_token("alice"));
    let session = alice.create_connect_session().send().await.unwrap();
    let cancelled = reqwest::Client::new()
        .post(format!("{}/cancel", session.connect_url))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), reqwest::StatusCode::OK);

    let error = alice
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(50))
        .await
        .unwrap_err();
    let Error::Connect(connect) = &error else {
        panic!("expected a connect error, got {error:?}");
    };
    assert_eq!(connect.kind, ConnectErrorKind::Denied);
    assert_eq!(connect.code.as_deref(), Some("connect_denied"));
}
