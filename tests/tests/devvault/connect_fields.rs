//! The connect session fields that shape the grant, through the SDK's vault client:
//! `grant_policy` expiry, `scope_constraint`, and `switch_account` on the demo consent page.

use std::time::Duration;

use alter::dev::DevVault;
use alter::vault::{ConnectSession, GrantPolicy};
use alter::{Error, Method, Vault};
use reqwest::StatusCode;

use crate::support::{follow, start};

fn vault(dev: &DevVault) -> Vault {
    Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .unwrap()
}

async fn finish(user: &Vault, session: ConnectSession) -> Vec<alter::vault::ConnectedGrant> {
    let page = follow(&session.connect_url).await;
    assert_eq!(page.status(), StatusCode::OK);
    user.wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap()
}

async fn demo_me(dev: &DevVault, user: &Vault) -> Result<alter::vault::Response, Error> {
    user.request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
}

#[tokio::test]
async fn grant_policy_expiry_ends_grant() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let session = alice
        .create_connect_session()
        .grant_policy(GrantPolicy::new().max_ttl(Duration::from_secs(1)))
        .send()
        .await
        .unwrap();
    let grants = finish(&alice, session).await;
    let policy = grants[0].grant_policy.as_ref().expect("policy reported");
    assert!(policy.expires_at.is_some(), "{policy:?}");
    assert_eq!(policy.created_by.as_deref(), Some("app"));
    assert!(dev.grant_for("alice", "demo").unwrap().expires_at.is_some());

    // Expiry is stored in whole seconds, so two seconds pass a one-second TTL for certain.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let error = demo_me(&dev, &alice).await.unwrap_err();
    assert!(matches!(error, Error::GrantExpired(_)), "{error:?}");
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.provider_id(), Some("demo"));
    assert_eq!(error.app_user_id(), Some("alice"));
    assert!(error.needs_connect_session());

    // Connecting again without a policy lifts the expiry.
    let session = alice.create_connect_session().send().await.unwrap();
    finish(&alice, session).await;
    assert_eq!(demo_me(&dev, &alice).await.unwrap().status(), 200);
    assert!(dev.grant_for("alice", "demo").unwrap().expires_at.is_none());
}

#[tokio::test]
async fn grant_policy_default_above_max_rejected() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let error = alice
        .create_connect_session()
        .grant_policy(
            GrantPolicy::new()
                .max_ttl(Duration::from_secs(60))
                .default_ttl(Duration::from_secs(120)),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error:?}");
    assert!(error.to_string().contains("default_ttl_seconds"), "{error}");
}

#[tokio::test]
async fn scope_constraint_limits_grant_scopes() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let session = alice
        .create_connect_session()
        .required_scopes("demo", ["messages.write"])
        .scope_constraint(["messages.read", "calendar.read"])
        .send()
        .await
        .unwrap();
    assert_eq!(session.scope_constraint_warnings.len(), 1);
    assert!(
        session.scope_constraint_warnings[0].contains("calendar.read"),
        "{:?}",
        session.scope_constraint_warnings
    );
    let grants = finish(&alice, session).await;
    assert_eq!(grants[0].scopes, ["messages.read"]);
    assert_eq!(
        dev.grant_for("alice", "demo").unwrap().scopes,
        ["messages.read"]
    );

    // The provider itself granted only the constrained scope.
    let me: serde_json::Value = demo_me(&dev, &alice).await.unwrap().json().unwrap();
    assert_eq!(me["scopes"], serde_json::json!(["messages.read"]));
}

#[tokio::test]
async fn scope_constraint_without_match_rejected() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let error = alice
        .create_connect_session()
        .scope_constraint(["calendar.read"])
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(422), "{error:?}");
    assert_eq!(error.code(), Some("invalid_scope_constraint"));
    let backend = error.backend().expect("a backend error");
    assert_eq!(backend.detail_str("provider_id"), Some("demo"));
}

#[tokio::test]
async fn switch_account_connects_another_account() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let session = alice.create_connect_session().send().await.unwrap();
    finish(&alice, session).await;

    let session = alice
        .create_connect_session()
        .switch_account(true)
        .send()
        .await
        .unwrap();
    // Even with auto-approve, the consent page waits and suggests no account.
    let consent = follow(&session.connect_url).await;
    assert_eq!(consent.status(), StatusCode::OK);
    assert!(consent.url().path().starts_with("/demo/oauth/authorize"));
    let page = consent.text().await.unwrap();
    assert!(page.contains(r#"name="account" value="""#), "{page}");
    let marker = r#"name="consent" value=""#;
    let start = page.find(marker).unwrap() + marker.len();
    let consent_id = &page[start..start + page[start..].find('"').unwrap()];

    let approved = reqwest::Client::new()
        .post(format!("{}/demo/oauth/authorize", dev.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "consent={consent_id}&decision=approve&account=alice-work"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), StatusCode::OK);
    let grants = alice
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();
    assert_eq!(grants[0].account_identifier.as_deref(), Some("alice-work"));
    assert_eq!(grants[0].operation, "creation");

    let accounts: Vec<Option<String>> = dev
        .grants()
        .into_iter()
        .map(|grant| grant.account_identifier)
        .collect();
    assert_eq!(
        accounts,
        [Some("alice".to_owned()), Some("alice-work".to_owned())]
    );
}

#[tokio::test]
async fn switch_account_excludes_repair() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let session = alice.create_connect_session().send().await.unwrap();
    let grants = finish(&alice, session).await;

    // The client rejects the combination itself, so DevVault's check is driven directly.
    let client = crate::support::Client::new(&dev);
    let response = client
        .post(
            "/sdk/oauth/connect/session",
            &serde_json::json!({
                "allowed_providers": ["demo"],
                "return_url": null,
                "allowed_origin": null,
                "metadata": null,
                "switch_account": true,
                "repair_grant_id": grants[0].grant_id,
                "user_token": dev.user_token("alice"),
            }),
        )
        .await;
    crate::support::expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}
