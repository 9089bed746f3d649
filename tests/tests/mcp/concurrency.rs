//! Many users calling tools at once, on their own sessions and switching tokens on shared ones:
//! every provider call must use the grant of the user who made that call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::raw::RawSession;
use crate::support::{Harness, call, connect_client, plain_client};

const USERS: usize = 20;
const CALLS_PER_SESSION: usize = 20;
const SHARED_SESSIONS: usize = 2;
const CALLS_PER_SHARED_SESSION: usize = 60;
/// Calls in flight at once. Every call keeps several sockets open (client, server, backend,
/// provider), so the cap keeps the test under a 1024 open-file limit.
const IN_FLIGHT: usize = 64;

fn user(index: usize) -> String {
    format!("user-{index:02}")
}

/// Returns the user a call id was made for: ids are `<user>.<suffix>`.
fn user_of(call_id: &str) -> &str {
    call_id.split_once('.').expect("call ids contain a dot").0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_uses_the_callers_grant() {
    let harness = Arc::new(Harness::start(Duration::from_secs(30)).await);
    let mut connecting = JoinSet::new();
    for index in 0..USERS {
        let harness = Arc::clone(&harness);
        connecting.spawn(async move { harness.connect(&user(index), None).await });
    }
    connecting.join_all().await;
    let tokens: Arc<Vec<String>> = Arc::new((0..USERS).map(|i| harness.token(&user(i))).collect());
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));

    // (call id, user the tool reports it served)
    let mut calls: JoinSet<Vec<(String, String)>> = JoinSet::new();
    for index in 0..USERS {
        let (url, tokens, gate) = (harness.mcp_url(), Arc::clone(&tokens), Arc::clone(&gate));
        calls.spawn(async move {
            let client = Arc::new(connect_client(&url, &tokens[index], plain_client()).await);
            let mut own = JoinSet::new();
            for n in 0..CALLS_PER_SESSION {
                let (client, gate) = (Arc::clone(&client), Arc::clone(&gate));
                let id = format!("{}.{n}", user(index));
                own.spawn(async move {
                    let _permit = gate.acquire().await.unwrap();
                    let result = client
                        .call_tool(call("direct_me", json!({ "call": id })))
                        .await
                        .unwrap_or_else(|error| panic!("{id}: {error}"));
                    assert_eq!(result.is_error, Some(false), "{id}: {result:?}");
                    let served = result.structured_content.unwrap()["user"].clone();
                    (id, served.as_str().unwrap().to_owned())
                });
            }
            own.join_all().await
        });
    }
    for shared in 0..SHARED_SESSIONS {
        let (url, tokens, gate) = (harness.mcp_url(), Arc::clone(&tokens), Arc::clone(&gate));
        calls.spawn(async move {
            let session = Arc::new(RawSession::open(&url, &tokens[shared]).await);
            let mut switching = JoinSet::new();
            for n in 0..CALLS_PER_SHARED_SESSION {
                let (session, tokens, gate) =
                    (Arc::clone(&session), Arc::clone(&tokens), Arc::clone(&gate));
                // Consecutive calls on the session come from different users.
                let index = (n * 7 + shared) % USERS;
                let id = format!("{}.shared{shared}-{n}", user(index));
                switching.spawn(async move {
                    let _permit = gate.acquire().await.unwrap();
                    let request_id = u64::try_from(n).unwrap() + 1;
                    let reply = session
                        .call(
                            &tokens[index],
                            request_id,
                            "direct_me",
                            json!({ "call": id }),
                        )
                        .await;
                    let result = &reply["result"];
                    assert_eq!(result["isError"], false, "{id}: {reply}");
                    let served = result["structuredContent"]["user"].as_str().unwrap();
                    (id, served.to_owned())
                });
            }
            switching.join_all().await
        });
    }
    let outcomes: Vec<(String, String)> = calls.join_all().await.into_iter().flatten().collect();

    let expected_calls = USERS * CALLS_PER_SESSION + SHARED_SESSIONS * CALLS_PER_SHARED_SESSION;
    assert_eq!(outcomes.len(), expected_calls);
    assert!(outcomes.len() >= 500);
    for (id, served) in &outcomes {
        assert_eq!(served, user_of(id), "the tool served {id} as {served}");
    }

    harness.vault.flush().await;
    let mut rows: HashMap<String, Vec<(String, Value)>> = HashMap::new();
    for record in harness.dev.audit_log() {
        let Some((_, id)) = record.url.split_once("?call=") else {
            continue;
        };
        let context = Value::Object(record.header_context.clone().unwrap_or_default());
        rows.entry(id.to_owned())
            .or_default()
            .push((record.user, context));
    }
    assert_eq!(rows.len(), expected_calls);
    for (id, _) in &outcomes {
        let recorded = &rows[id];
        assert_eq!(recorded.len(), 1, "{id} has one audit row: {recorded:?}");
        let (owner, context) = &recorded[0];
        assert_eq!(owner, user_of(id), "{id} used the grant of {owner}");
        assert_eq!(*context, json!({"tool": "direct_me"}), "{id}");
    }

    Arc::into_inner(harness)
        .expect("every task ended")
        .stop()
        .await;
}
