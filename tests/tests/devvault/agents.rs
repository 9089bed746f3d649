//! Managed agents through the SDK's vault client: an agent key uses only grants delegated to
//! it, gets `no_delegated_grant` otherwise, and recovers with the connect session the error
//! calls for.

use std::time::Duration;

use alter::dev::{DevVault, ManagedAgent};
use alter::error::AgentErrorKind;
use alter::{Error, Method, Vault};
use uuid::Uuid;

use crate::support::{follow, start};

fn vault_with_key(dev: &DevVault, api_key: &str) -> Vault {
    Vault::builder(api_key)
        .base_url(dev.base_url())
        .build()
        .unwrap()
}

fn agent_vault(dev: &DevVault, agent: &ManagedAgent, user: &str) -> Vault {
    vault_with_key(dev, agent.api_key.expose_secret()).with_user_token(dev.user_token(user))
}

async fn demo_me(dev: &DevVault, user: &Vault) -> Result<alter::vault::Response, Error> {
    user.request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
}

/// Runs a connect session headlessly (DevVault auto-approves) and returns its grants.
async fn finish(
    user: &Vault,
    session: alter::vault::ConnectSession,
) -> Vec<alter::vault::ConnectedGrant> {
    follow(&session.connect_url).await;
    user.wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap()
}

#[tokio::test]
async fn agent_key_is_an_agent_key() {
    let dev = start(true).await;
    let agent = dev.create_agent("mail-bot").unwrap();
    assert!(agent.api_key.expose_secret().starts_with("alter_ak_"));
    assert_eq!(agent.name, "mail-bot");
    let duplicate = dev.create_agent("mail-bot").unwrap_err();
    assert!(
        matches!(duplicate, Error::InvalidRequest(_)),
        "{duplicate:?}"
    );
}

#[tokio::test]
async fn no_delegation_recovers_end_to_end() {
    let dev = start(true).await;
    let agent = dev.create_agent("mail-bot").unwrap();
    let app_alice = vault_with_key(&dev, dev.api_key().expose_secret())
        .with_user_token(dev.user_token("alice"));
    let session = app_alice.create_connect_session().send().await.unwrap();
    finish(&app_alice, session).await;
    let agent_alice = agent_vault(&dev, &agent, "alice");

    // Alice's grant exists, but she never delegated it to the agent.
    let error = demo_me(&dev, &agent_alice).await.unwrap_err();
    let Error::NoDelegatedGrant(missing) = &error else {
        panic!("expected NoDelegatedGrant, got {error:?}");
    };
    assert_eq!(missing.backend.status, 404);
    assert_eq!(error.provider_id(), Some("demo"));
    let agent_id = agent.id.to_string();
    assert_eq!(error.agent_id(), Some(agent_id.as_str()));
    assert_eq!(error.app_user_id(), Some("alice"));
    assert!(error.needs_connect_session());

    let session = agent_alice
        .create_connect_session_for_error(&error)
        .unwrap()
        .send()
        .await
        .unwrap();
    let grants = finish(&agent_alice, session).await;
    let delegation = grants[0].delegation.as_ref().expect("delegation reported");
    assert_eq!(delegation.agent_id, agent_id);
    assert!(delegation.delegable);
    assert!(!delegation.policy_refused);
    assert_eq!(
        grants[0].operation, "reauth",
        "the existing grant is delegated"
    );

    let me: serde_json::Value = demo_me(&dev, &agent_alice).await.unwrap().json().unwrap();
    assert_eq!(me["user"], "alice");
    let grant = dev.grant_for("alice", "demo").unwrap();
    assert_eq!(grant.delegated_to, [agent.id]);
    assert_eq!(dev.grants().len(), 1);
}

#[tokio::test]
async fn delegation_is_per_agent_and_user() {
    let dev = start(true).await;
    let mail = dev.create_agent("mail-bot").unwrap();
    let calendar = dev.create_agent("calendar-bot").unwrap();
    let mail_alice = agent_vault(&dev, &mail, "alice");
    let session = mail_alice
        .create_connect_session()
        .agent("mail-bot")
        .send()
        .await
        .unwrap();
    finish(&mail_alice, session).await;
    assert_eq!(demo_me(&dev, &mail_alice).await.unwrap().status(), 200);

    let calendar_error = demo_me(&dev, &agent_vault(&dev, &calendar, "alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(calendar_error, Error::NoDelegatedGrant(_)),
        "{calendar_error:?}"
    );
    let bob_error = demo_me(&dev, &agent_vault(&dev, &mail, "bob"))
        .await
        .unwrap_err();
    assert!(
        matches!(bob_error, Error::NoDelegatedGrant(_)),
        "{bob_error:?}"
    );
    assert_eq!(bob_error.app_user_id(), Some("bob"));

    // The application itself is not limited by delegations.
    let app_alice = vault_with_key(&dev, dev.api_key().expose_secret())
        .with_user_token(dev.user_token("alice"));
    assert_eq!(demo_me(&dev, &app_alice).await.unwrap().status(), 200);

    // Proxy mode applies the same rule.
    let proxied = calendar_vault_proxy(&dev, &calendar).await;
    assert!(matches!(proxied, Error::NoDelegatedGrant(_)), "{proxied:?}");
}

async fn calendar_vault_proxy(dev: &DevVault, agent: &ManagedAgent) -> Error {
    agent_vault(dev, agent, "alice")
        .proxy_request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn not_delegable_refuses_delegation() {
    let dev = start(true).await;
    let agent = dev.create_agent("mail-bot").unwrap();
    let agent_alice = agent_vault(&dev, &agent, "alice");
    let session = agent_alice
        .create_connect_session()
        .agent(agent.id.to_string())
        .delegable(false)
        .send()
        .await
        .unwrap();
    let grants = finish(&agent_alice, session).await;
    let delegation = grants[0].delegation.as_ref().expect("delegation reported");
    assert!(!delegation.delegable);
    assert!(delegation.policy_refused);
    assert!(
        dev.grant_for("alice", "demo")
            .unwrap()
            .delegated_to
            .is_empty()
    );

    let error = demo_me(&dev, &agent_alice).await.unwrap_err();
    assert!(matches!(error, Error::NoDelegatedGrant(_)), "{error:?}");
}

#[tokio::test]
async fn grant_made_undelegable_stops_agent() {
    let dev = start(true).await;
    let agent = dev.create_agent("mail-bot").unwrap();
    let agent_alice = agent_vault(&dev, &agent, "alice");
    let session = agent_alice
        .create_connect_session()
        .agent("mail-bot")
        .send()
        .await
        .unwrap();
    finish(&agent_alice, session).await;
    assert_eq!(demo_me(&dev, &agent_alice).await.unwrap().status(), 200);

    // Alice connects the same account again and turns delegation off.
    let app_alice = vault_with_key(&dev, dev.api_key().expose_secret())
        .with_user_token(dev.user_token("alice"));
    let session = app_alice
        .create_connect_session()
        .delegable(false)
        .send()
        .await
        .unwrap();
    finish(&app_alice, session).await;

    let error = demo_me(&dev, &agent_alice).await.unwrap_err();
    let Error::GrantNotDelegable(refused) = &error else {
        panic!("expected GrantNotDelegable, got {error:?}");
    };
    assert_eq!(refused.backend.status, 403);
    assert_eq!(
        refused.detail_reason.as_deref(),
        Some("grant_not_delegable")
    );
    assert_eq!(refused.backend.detail_str("provider_id"), Some("demo"));
    let agent_id = agent.id.to_string();
    assert_eq!(
        refused.backend.detail_str("agent_id"),
        Some(agent_id.as_str())
    );
}

#[tokio::test]
async fn agent_names_only_itself() {
    let dev = start(true).await;
    let mail = dev.create_agent("mail-bot").unwrap();
    dev.create_agent("calendar-bot").unwrap();
    let mail_alice = agent_vault(&dev, &mail, "alice");

    let error = mail_alice
        .create_connect_session()
        .agent("calendar-bot")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Agent(agent) if agent.kind == AgentErrorKind::CallerMismatch),
        "{error:?}"
    );

    let error = mail_alice
        .create_connect_session()
        .agent(Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Agent(agent) if agent.kind == AgentErrorKind::NotFound),
        "{error:?}"
    );
}
