//! Many users at once: each ends up with exactly its own grant and token.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{Client, demo_call, json_of, start};

const USERS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_users_connect_at_once() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let me_url = format!("{}/me", dev.demo_api_url());

    let mut tasks = JoinSet::new();
    for index in 0..USERS {
        let name = format!("user-{index}");
        let user_token = dev.user_token(&name);
        let client = client.clone();
        let me_url = me_url.clone();
        tasks.spawn(async move {
            let grant = client.connect(&user_token, json!({})).await;
            let token = client.demo_token(&user_token).await;
            assert_eq!(token["grant_id"], grant["grant_id"], "{name}");
            let (status, me) = json_of(demo_call(Method::GET, &me_url, &token, None).await).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(
                me["user"],
                name.as_str(),
                "each token belongs to its own user"
            );
            name
        });
    }
    let mut finished = Vec::new();
    while let Some(result) = tasks.join_next().await {
        finished.push(result.expect("user task succeeds"));
    }
    assert_eq!(finished.len(), USERS);

    let grants = dev.grants();
    assert_eq!(grants.len(), USERS);
    for index in 0..USERS {
        let name = format!("user-{index}");
        let owned = grants.iter().filter(|grant| grant.user == name).count();
        assert_eq!(owned, 1, "{name} has exactly one grant");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_refresh_once() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    client.connect(&alice, json!({})).await;
    let old = client.demo_token(&alice).await;
    dev.expire_provider_token(dev.grant_for("alice", "demo").unwrap().id)
        .unwrap();

    // The demo provider rotates refresh tokens, so a second refresh with the old one would be
    // rejected and surface as credential_revoked.
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let client = client.clone();
        let alice = alice.clone();
        tasks.spawn(async move { client.demo_token(&alice).await });
    }
    let mut tokens = Vec::new();
    while let Some(result) = tasks.join_next().await {
        tokens.push(result.expect("token task succeeds")["access_token"].clone());
    }
    assert!(
        tokens.iter().all(|token| *token == tokens[0]),
        "one refresh served everyone"
    );
    assert_ne!(tokens[0], old["access_token"]);
}
