//! The audit context DevVault receives as `X-Alter-Context` for calls made inside tools.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Harness, call, connect_client, plain_client};

/// Returns the `X-Alter-Context` and the row's context of the audit row for `call`.
fn contexts_of(harness: &Harness, call: &str) -> (Value, Value) {
    let suffix = format!("?call={call}");
    let records: Vec<_> = harness
        .dev
        .audit_log()
        .into_iter()
        .filter(|record| record.url.ends_with(&suffix))
        .collect();
    assert_eq!(records.len(), 1, "one audit row for {call}");
    let record = &records[0];
    let header = Value::Object(record.header_context.clone().unwrap_or_default());
    let row = Value::Object(record.context.clone().unwrap_or_default());
    (header, row)
}

#[tokio::test]
async fn tool_context_reaches_devvault() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;

    client
        .call_tool(call("direct_me", json!({"call": "direct"})))
        .await
        .unwrap();
    client.call_tool(call("whoami", Value::Null)).await.unwrap();
    client
        .call_tool(call("whoami_plain", Value::Null))
        .await
        .unwrap();
    harness.vault.flush().await;

    let expected = [
        ("direct", json!({"tool": "direct_me"})),
        ("whoami", json!({"tool": "whoami"})),
        ("whoami_plain", json!({"tool": "whoami_plain"})),
    ];
    for (call, context) in expected {
        let (header, row) = contexts_of(&harness, call);
        assert_eq!(header, context, "{call}");
        assert_eq!(row, context, "{call}");
    }

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn nested_tool_records_its_parent() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;

    let result = client
        .call_tool(call("outer", json!({"call": "nested"})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert_eq!(result.structured_content.unwrap()["user"], "alice");
    harness.vault.flush().await;

    let (header, row) = contexts_of(&harness, "nested-outer");
    assert_eq!(header, json!({"tool": "outer"}));
    assert_eq!(row, json!({"tool": "outer"}));
    let (header, row) = contexts_of(&harness, "nested-inner");
    assert_eq!(header, json!({"tool": "inner", "parent_tool": "outer"}));
    assert_eq!(row, json!({"tool": "inner", "parent_tool": "outer"}));
    let inner = header.as_object().unwrap().keys().collect::<Vec<_>>();
    assert_eq!(inner, ["tool", "parent_tool"], "keys keep their order");

    client.cancel().await.unwrap();
    harness.stop().await;
}
