//! Which end user a call acts for: a user-scoped vault never falls back to app scope, an
//! app-scoped vault sends no `user_token`, and the token comes from the call, the handle or the
//! identity scope, in that order. An empty token is rejected wherever it comes from.

use alter::identity::{self, UserToken};
use alter::{Error, Method, Vault};
use alter_tests::stand_in::fixtures::{
    CONNECT_CREATE_PATH, PROVIDER_ID, TOKEN_PATH, USER_TOKEN, bounded, vault_builder,
};
use alter_tests::stand_in::{Reply, StandIn};
use serde_json::{Value, json};

struct Setup {
    backend: StandIn,
    provider: StandIn,
}

async fn setup() -> Setup {
    Setup {
        backend: StandIn::backend().await,
        provider: StandIn::provider().await,
    }
}

impl Setup {
    fn user_scoped(&self) -> Vault {
        vault_builder(&self.backend).build().unwrap()
    }

    fn app_scoped(&self) -> Vault {
        vault_builder(&self.backend).app_scoped().build().unwrap()
    }

    async fn send(&self, vault: &Vault) -> Result<alter::vault::Response, Error> {
        bounded(
            vault
                .request(Method::GET, self.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
    }

    /// Returns the body of the last `/sdk/token` request.
    fn last_token_body(&self) -> Value {
        self.backend
            .received_at(TOKEN_PATH)
            .last()
            .expect("a credential request was sent")
            .json()
    }

    async fn assert_nothing_sent(&self, vault: &Vault) {
        vault.flush().await;
        assert!(self.backend.received().is_empty(), "the backend was called");
        assert!(
            self.provider.received().is_empty(),
            "the provider was called"
        );
    }
}

fn keys(body: &Value) -> Vec<&str> {
    body.as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_empty_token_rejected(error: Error) {
    let Error::InvalidRequest(message) = &error else {
        panic!("expected Error::InvalidRequest, got {error:?}");
    };
    assert!(message.contains("the user token is empty"), "{message}");
}

#[tokio::test]
async fn missing_token_fails_closed() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    let error = setup.send(&vault).await.unwrap_err();
    assert!(matches!(error, Error::MissingUserToken), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("no user token for this call"),
        "{message}"
    );
    assert!(
        message.contains("inside `alter::identity::scope`"),
        "{message}"
    );
    assert!(message.contains("pass `.user_token(…)`"), "{message}");
    setup.assert_nothing_sent(&vault).await;
}

#[tokio::test]
async fn connect_session_without_token_fails_closed() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    let error = bounded(
        vault
            .create_connect_session()
            .allowed_providers([PROVIDER_ID])
            .send(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::MissingUserToken), "{error:?}");
    setup.assert_nothing_sent(&vault).await;
}

#[tokio::test]
async fn app_scoped_vault_sends_no_user_token() {
    let setup = setup().await;
    let vault = setup.app_scoped();
    setup.send(&vault).await.unwrap();
    let body = setup.last_token_body();
    assert_eq!(keys(&body), ["provider_id", "reason", "request"]);
    assert!(body.get("user_token").is_none());

    setup.backend.script(
        CONNECT_CREATE_PATH,
        Reply::json(
            200,
            &json!({
                "session_token": "cs_1",
                "connect_url": "https://connect.example/s/cs_1",
                "expires_in": 600,
                "expires_at": "2030-01-01T00:00:00Z",
            }),
        ),
    );
    bounded(vault.create_connect_session().send())
        .await
        .unwrap();
    let created = &setup.backend.received_at(CONNECT_CREATE_PATH)[0];
    assert!(created.json().get("user_token").is_none());
}

#[tokio::test]
async fn app_scoped_vault_still_sends_given_token() {
    let setup = setup().await;
    let vault = setup.app_scoped().with_user_token(USER_TOKEN);
    setup.send(&vault).await.unwrap();
    assert_eq!(setup.last_token_body()["user_token"], USER_TOKEN);
}

#[tokio::test]
async fn with_user_token_binds_handle_only() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    let alice = vault.with_user_token("alice-token");
    let bob = vault.with_user_token("bob-token");

    setup.send(&alice).await.unwrap();
    assert_eq!(setup.last_token_body()["user_token"], "alice-token");
    setup.send(&bob).await.unwrap();
    assert_eq!(setup.last_token_body()["user_token"], "bob-token");
    assert_eq!(
        alice.bound_user_token().map(UserToken::expose_secret),
        Some("alice-token")
    );

    let error = setup.send(&vault).await.unwrap_err();
    assert!(matches!(error, Error::MissingUserToken), "{error:?}");
    assert_eq!(setup.backend.received_at(TOKEN_PATH).len(), 2);
}

#[tokio::test]
async fn identity_scope_picked_up() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    identity::scope(UserToken::from("scoped-token"), async {
        setup.send(&vault).await.unwrap();
    })
    .await;
    assert_eq!(setup.last_token_body()["user_token"], "scoped-token");

    let error = setup.send(&vault).await.unwrap_err();
    assert!(
        matches!(error, Error::MissingUserToken),
        "the scope ended, so no token is left: {error:?}"
    );
}

#[tokio::test]
async fn token_sources_in_precedence_order() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    let handle = vault.with_user_token("handle-token");
    identity::scope(UserToken::from("scope-token"), async {
        bounded(
            handle
                .request(Method::GET, setup.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .user_token("call-token")
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(setup.last_token_body()["user_token"], "call-token");

        setup.send(&handle).await.unwrap();
        assert_eq!(setup.last_token_body()["user_token"], "handle-token");

        setup.send(&vault).await.unwrap();
        assert_eq!(setup.last_token_body()["user_token"], "scope-token");
    })
    .await;
}

#[tokio::test]
async fn concurrent_scopes_stay_separate() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    let calls = (0..16).map(|i| {
        let vault = vault.clone();
        let url = setup.provider.url_of(&format!("/user/{i}"));
        tokio::spawn(identity::scope(
            UserToken::from(format!("user-{i}")),
            async move {
                vault
                    .request(Method::GET, url)
                    .provider(PROVIDER_ID)
                    .send()
                    .await
            },
        ))
    });
    for call in futures_join(calls).await {
        call.unwrap();
    }
    let token_requests = setup.backend.received_at(TOKEN_PATH);
    assert_eq!(token_requests.len(), 16);
    for request in token_requests {
        let body = request.json();
        let url = body["request"]["url"].as_str().unwrap();
        let index = url.rsplit('/').next().unwrap();
        assert_eq!(body["user_token"], format!("user-{index}"), "{url}");
    }
}

/// Awaits every spawned call and returns their results in order.
async fn futures_join<T>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<T, Error>>>,
) -> Vec<Result<T, Error>> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(bounded(handle).await.expect("the call did not panic"));
    }
    results
}

#[tokio::test]
async fn empty_call_token_rejected() {
    let setup = setup().await;
    for vault in [
        setup.user_scoped(),
        setup.app_scoped(),
        setup.user_scoped().with_user_token(USER_TOKEN),
    ] {
        let error = bounded(
            vault
                .request(Method::GET, setup.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .user_token("")
                .send(),
        )
        .await
        .unwrap_err();
        assert_empty_token_rejected(error);
        setup.assert_nothing_sent(&vault).await;
    }
}

#[tokio::test]
async fn empty_bound_token_rejected() {
    let setup = setup().await;
    for vault in [
        setup.user_scoped().with_user_token(""),
        setup.app_scoped().with_user_token(""),
    ] {
        assert_empty_token_rejected(setup.send(&vault).await.unwrap_err());
        let error = bounded(
            vault
                .request(Method::GET, setup.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .app_user_id("user-42")
                .send(),
        )
        .await
        .unwrap_err();
        assert_empty_token_rejected(error);
        let error = bounded(vault.create_connect_session().send())
            .await
            .unwrap_err();
        assert_empty_token_rejected(error);
        setup.assert_nothing_sent(&vault).await;
    }
}

#[tokio::test]
async fn empty_scoped_token_rejected() {
    let setup = setup().await;
    let vault = setup.app_scoped();
    identity::scope(UserToken::from(""), async {
        assert_empty_token_rejected(setup.send(&vault).await.unwrap_err());
    })
    .await;
    setup.assert_nothing_sent(&vault).await;
}

#[tokio::test]
async fn app_user_id_needs_app_scope() {
    let setup = setup().await;
    let vault = setup.user_scoped();
    let error = bounded(
        vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .app_user_id("user-42")
            .send(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::MissingUserToken), "{error:?}");
    setup.assert_nothing_sent(&vault).await;
}

#[tokio::test]
async fn app_user_id_names_user_without_token() {
    let setup = setup().await;
    let vault = setup.app_scoped();
    bounded(
        vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .app_user_id("user-42")
            .send(),
    )
    .await
    .unwrap();
    let body = setup.last_token_body();
    assert_eq!(
        keys(&body),
        ["provider_id", "reason", "request", "app_user_id"]
    );
    assert_eq!(body["app_user_id"], "user-42");
}
