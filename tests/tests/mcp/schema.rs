//! What rmcp's client sees in `tools/list`.

use std::time::Duration;

use rmcp::model::Tool;
use serde_json::Value;

use crate::support::{Harness, connect_client, plain_client};

fn find<'a>(tools: &'a [Tool], name: &str) -> &'a Tool {
    tools
        .iter()
        .find(|tool| tool.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
}

fn mentions_context(schema: &Value) -> bool {
    let text = schema.to_string();
    text.contains("AlterContext") || text.contains("ctx")
}

#[tokio::test]
async fn tools_list_shows_every_tool() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;

    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "direct_me",
            "inner",
            "outer",
            "panics",
            "post_message",
            "slow",
            "unconfigured",
            "whoami",
            "whoami_plain",
            "whoami_work",
        ]
    );

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn context_never_in_input_schema() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;
    let tools = client.list_all_tools().await.unwrap();

    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        assert!(!mentions_context(&schema), "{}: {schema}", tool.name);
    }
    let whoami = Value::Object((*find(&tools, "whoami").input_schema).clone());
    assert_eq!(whoami["properties"], serde_json::json!({}), "{whoami}");
    let post = Value::Object((*find(&tools, "post_message").input_schema).clone());
    assert_eq!(post["required"], serde_json::json!(["text"]), "{post}");
    assert_eq!(post["properties"]["text"]["type"], "string", "{post}");

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn json_output_schema_matches_plain_tool() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("alice"), plain_client()).await;
    let tools = client.list_all_tools().await.unwrap();

    let alter = find(&tools, "whoami");
    let plain = find(&tools, "whoami_plain");
    let schema = alter
        .output_schema
        .as_ref()
        .expect("whoami has an output schema");
    assert_eq!(Some(schema), plain.output_schema.as_ref());
    assert_eq!(schema["properties"]["user"]["type"], "string", "{schema:?}");
    assert_eq!(alter.description, plain.description);
    assert_eq!(alter.annotations, plain.annotations);
    assert_eq!(
        alter.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    assert!(find(&tools, "outer").output_schema.is_none());
    assert!(find(&tools, "post_message").output_schema.is_some());

    client.cancel().await.unwrap();
    harness.stop().await;
}
