//! Connect sessions through the SDK's vault client with every request field, recovery from
//! typed errors, and constrained vaults, against DevVault.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alter::dev::{DevVault, ProviderConfig};
use alter::error::{BackendError, GrantError};
use alter::vault::{Constraints, GrantPolicy};
use alter::{Error, Method, Vault};
use serde_json::json;
use uuid::Uuid;

use crate::support::{follow, start};

fn vault(dev: &DevVault) -> Vault {
    Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .unwrap()
}

async fn finish(
    user: &Vault,
    session: alter::vault::ConnectSession,
) -> Vec<alter::vault::ConnectedGrant> {
    let page = follow(&session.connect_url).await;
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    user.wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap()
}

#[tokio::test]
async fn session_with_accepted_fields_connects() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let session = alice
        .create_connect_session()
        .allowed_providers(["demo"])
        .allowed_origin("https://app.example")
        .metadata(Some("203.0.113.7".into()), Some("tests/1.0".into()))
        .direct(true)
        .allow_user_policy_rules(false)
        .grant_policy(GrantPolicy::new().max_ttl(Duration::from_secs(3600)))
        .required_scopes("demo", ["messages.write"])
        .label("work")
        .delegable(false)
        .scope_constraint(["messages.read", "messages.write"])
        .send()
        .await
        .unwrap();
    let grants = finish(&alice, session).await;
    assert_eq!(grants.len(), 1);
    assert!(
        grants[0].scopes.contains(&"messages.write".to_owned()),
        "{grants:?}"
    );
    let policy = grants[0]
        .grant_policy
        .as_ref()
        .expect("the policy is reported");
    assert!(policy.expires_at.is_some(), "{policy:?}");
    assert_eq!(grants[0].delegation, None, "no agent was named");
    let grant = dev.grant_for("alice", "demo").unwrap();
    assert_eq!(grant.label.as_deref(), Some("work"));
    assert!(!grant.delegable);
    assert!(grant.expires_at.is_some());
}

#[tokio::test]
async fn declined_provider_keeps_session_open() {
    // Without auto-approve, so the demo consent page can deny. The second provider's
    // endpoints are never called.
    let acme = ProviderConfig::new(
        "acme",
        "http://127.0.0.1:9/authorize",
        "http://127.0.0.1:9/token",
        "client",
    );
    let dev = DevVault::builder().provider(acme).start().await.unwrap();
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let session = alice
        .create_connect_session()
        .allowed_providers(["demo", "acme"])
        .send()
        .await
        .unwrap();

    let consent = reqwest::get(format!("{}/authorize?provider=demo", session.connect_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"name="consent" value=""#;
    let start = consent.find(marker).unwrap() + marker.len();
    let consent_id = &consent[start..start + consent[start..].find('"').unwrap()];
    let declined_page = reqwest::Client::new()
        .post(format!("{}/demo/oauth/authorize", dev.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("consent={consent_id}&decision=deny"))
        .send()
        .await
        .unwrap();
    assert_eq!(declined_page.status(), reqwest::StatusCode::OK);
    assert!(
        declined_page
            .text()
            .await
            .unwrap()
            .contains("Choose another")
    );

    let seen = Arc::new(Mutex::new(Vec::new()));
    let error = alice
        .wait_for_connect_session(&session.session_token)
        .timeout(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(20))
        .on_declined({
            let seen = Arc::clone(&seen);
            move |provider| {
                seen.lock()
                    .unwrap()
                    .push((provider.provider_id.clone(), provider.error_code.clone()));
                assert!(provider.declined_at.is_some());
            }
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("poll_deadline_elapsed"), "{error:?}");
    assert!(error.to_string().contains("declined demo"), "{error}");
    assert_eq!(
        *seen.lock().unwrap(),
        [("demo".to_owned(), "access_denied".to_owned())],
        "the callback fires once per provider, however often it is polled"
    );
}

#[tokio::test]
async fn missing_grant_recovers_with_session() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let me = format!("{}/me", dev.demo_api_url());

    let error = alice
        .request(Method::GET, &me)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    let session = alice
        .create_connect_session_for_error(&error)
        .unwrap()
        .send()
        .await
        .unwrap();
    let grants = finish(&alice, session).await;
    assert_eq!(grants[0].provider_id, "demo");
    let response = alice
        .request(Method::GET, &me)
        .provider("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn revoked_credential_is_repaired_in_place() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let me = format!("{}/me", dev.demo_api_url());
    let session = alice.create_connect_session().send().await.unwrap();
    let grant_id = finish(&alice, session).await[0].grant_id.clone();

    dev.revoke_demo_grant(Uuid::parse_str(&grant_id).unwrap())
        .unwrap();
    let error = alice
        .request(Method::GET, &me)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::CredentialRevoked(_)), "{error:?}");
    assert_eq!(error.grant_id(), Some(grant_id.as_str()));

    let session = alice
        .create_connect_session_for_error(&error)
        .unwrap()
        .send()
        .await
        .unwrap();
    let grants = finish(&alice, session).await;
    assert_eq!(grants[0].grant_id, grant_id, "the same grant is repaired");
    assert_eq!(grants[0].operation, "reauth");
    let response = alice
        .request(Method::GET, &me)
        .provider("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn repair_of_unknown_grant_falls_back() {
    let dev = start(true).await;
    let alice = vault(&dev).with_user_token(dev.user_token("alice"));
    let mut backend = BackendError::new(403, Some("credential_revoked".into()), "revoked");
    backend
        .details
        .insert("grant_id".into(), json!(Uuid::new_v4().to_string()));
    backend.details.insert("provider_id".into(), json!("demo"));
    let error = Error::CredentialRevoked(GrantError::from_backend(backend));

    let session = alice
        .create_connect_session_for_error(&error)
        .unwrap()
        .send()
        .await
        .unwrap();
    let grants = finish(&alice, session).await;
    assert_eq!(grants[0].operation, "creation");
}

#[tokio::test]
async fn errors_without_session_fix_are_rejected() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let not_fixable = Error::Backend(BackendError::new(500, None, "down"));
    let message = vault
        .create_connect_session_for_error(&not_fixable)
        .unwrap_err()
        .to_string();
    assert!(message.contains("does not fix"), "{message}");

    let no_provider = Error::GrantNotFound(GrantError::from_backend(BackendError::new(
        404,
        Some("grant_not_found".into()),
        "missing",
    )));
    let message = vault
        .create_connect_session_for_error(&no_provider)
        .unwrap_err()
        .to_string();
    assert!(message.contains("names no provider"), "{message}");
}

#[tokio::test]
async fn constrained_vault_is_verified() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let constrained = vault
        .with_constraints(Constraints::scopes(["connect:write"]).with_rule(
            "json_match",
            json!({"when": {"method": "POST"}, "effect": "deny"}),
        ))
        .unwrap();
    let alice = constrained.with_user_token(dev.user_token("alice"));
    let session = alice.create_connect_session().send().await.unwrap();
    finish(&alice, session).await;
    let response = alice
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    constrained.flush().await;
    vault.flush().await;
    assert_eq!(
        dev.audit_log().len(),
        1,
        "the sibling shares the audit queue"
    );
}
