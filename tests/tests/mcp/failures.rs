//! Tools that fail: each failure is a clean error result, and the server keeps serving.

use std::time::Duration;

use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use crate::support::{Harness, call, connect_client, plain_client};

fn text_of(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

#[tokio::test]
async fn bad_arguments_give_error_result() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;

    for arguments in [json!({}), json!({"text": 5}), json!({"text": ["a"]})] {
        let result = client
            .call_tool(call("post_message", arguments.clone()))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(true), "{arguments}: {result:?}");
        let text = text_of(&result);
        assert!(text.contains("failed to deserialize parameters"), "{text}");
    }
    let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert!(
        harness
            .dev
            .audit_log()
            .iter()
            .all(|r| !r.url.ends_with("/messages"))
    );

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn panicking_tool_gives_error_result() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;

    for _ in 0..2 {
        let result = client.call_tool(call("panics", Value::Null)).await.unwrap();
        assert_eq!(result.is_error, Some(true), "{result:?}");
        let structured = result.structured_content.clone().unwrap();
        assert_eq!(structured["error"], "internal_error", "{structured}");
        assert!(!text_of(&result).contains("on purpose"), "{result:?}");
    }
    let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn provider_timeout_gives_error_result() {
    let harness = Harness::start(Duration::from_secs(1)).await;
    harness.connect("alice", None).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;

    let result = client.call_tool(call("slow", Value::Null)).await.unwrap();
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(structured["error"], "timeout", "{structured}");
    let text = serde_json::to_string(&result).unwrap();
    assert!(!text.contains("127.0.0.1"), "{text}");
    assert!(!text.contains("hang"), "{text}");

    let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    harness.vault.flush().await;
    let timed_out = harness
        .dev
        .audit_log()
        .into_iter()
        .find(|record| record.url.ends_with("/hang"))
        .expect("the timed-out call has an audit row");
    assert_eq!(timed_out.response_status, 0);
    assert_eq!(timed_out.user, "alice");

    client.cancel().await.unwrap();
    harness.stop().await;
}
