//! Runs the MCP example binary as a user would: over HTTP following its printed instructions,
//! and over stdio as a local MCP client that starts the server.

mod support;

use std::process::{Command, Stdio};

use alter::Vault;
use alter::dev::DevVault;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use support::{Example, example_binary, require_tool, shell};

fn parse(output: &str) -> Value {
    serde_json::from_str(output).unwrap_or_else(|e| panic!("not JSON ({e}): {output}"))
}

/// Returns the tool result of a JSON-RPC response.
fn result_of(output: &str) -> Value {
    let response = parse(output);
    assert_eq!(response["jsonrpc"], "2.0", "{output}");
    response["result"].clone()
}

#[test]
fn printed_commands_work_verbatim() {
    require_tool("curl");
    require_tool("sed");
    let mut example = Example::start("mcp_server");
    let token = example.token();

    let first = result_of(&shell(&example.command_after("2."), &token));
    assert_eq!(first["isError"], true, "{first}");
    assert_eq!(
        first["structuredContent"]["error"],
        "authorization_required"
    );
    assert_eq!(first["structuredContent"]["provider"], "demo");

    shell(&example.command_after("3."), &token);
    let me = result_of(&shell(&example.command_after("4."), &token));
    assert_eq!(me["isError"], false, "{me}");
    assert_eq!(me["structuredContent"]["user"], "alice", "{me}");
    assert_eq!(me["structuredContent"]["scopes"], json!(["messages.read"]));

    let post = example.command_after("5.");
    let refused = result_of(&shell(&post, &token));
    assert_eq!(
        refused["structuredContent"]["error"],
        "authorization_required"
    );
    let connect_url = refused["structuredContent"]["connect_url"]
        .as_str()
        .unwrap();
    assert!(
        refused["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("messages.write"),
        "{refused}"
    );
    shell(&format!("curl -sL '{connect_url}' > /dev/null"), &token);
    let posted = result_of(&shell(&post, &token));
    assert_eq!(posted["isError"], false, "{posted}");
    assert_eq!(posted["structuredContent"]["from"], "alice", "{posted}");
    assert_eq!(posted["structuredContent"]["text"], "hello", "{posted}");

    let status = example.interrupt();
    assert!(
        status.success(),
        "the example exits cleanly on Ctrl-C: {status}"
    );
}

#[test]
fn endpoint_rejects_missing_bearer() {
    require_tool("curl");
    let example = Example::start("mcp_server");
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(example.app_url())
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "401");
}

/// Sends one JSON-RPC message as a line on the server's stdin.
async fn send(stdin: &mut tokio::process::ChildStdin, message: &Value) {
    let mut line = serde_json::to_vec(message).unwrap();
    line.push(b'\n');
    stdin
        .write_all(&line)
        .await
        .expect("the server reads stdin");
}

/// Reads stdout lines until the response with `id`.
async fn response(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    id: u64,
) -> Value {
    while let Some(line) = lines.next_line().await.expect("the server writes stdout") {
        let message = parse(&line);
        if message["id"] == id {
            return message;
        }
    }
    panic!("the server closed stdout before answering {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_serves_the_configured_user() {
    require_tool("curl");
    let dev = DevVault::builder()
        .auto_approve(true)
        .start()
        .await
        .unwrap();
    let vault = Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .unwrap();
    let token = dev.user_token("carol");
    let session = vault
        .with_user_token(token.as_str())
        .create_connect_session()
        .allowed_providers(["demo"])
        .send()
        .await
        .unwrap();
    let connect = format!("curl -sL '{}' > /dev/null", session.connect_url);
    tokio::task::spawn_blocking(move || shell(&connect, ""))
        .await
        .unwrap();

    let mut child = tokio::process::Command::new(example_binary("mcp_server"))
        .arg("--stdio")
        .env("ALTER_API_KEY", dev.api_key().expose_secret())
        .env("ALTER_BASE_URL", dev.base_url())
        .env("ALTER_DEMO_API_URL", dev.demo_api_url())
        .env("ALTER_USER_TOKEN", &token)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let initialize = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "stdio-test", "version": "0"},
        },
    });
    send(&mut stdin, &initialize).await;
    let initialized = response(&mut lines, 1).await;
    assert_eq!(
        initialized["result"]["serverInfo"]["name"],
        "alter-mcp-example"
    );
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;

    let call = json!({
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}},
    });
    send(&mut stdin, &call).await;
    let me = response(&mut lines, 2).await;
    assert_eq!(me["result"]["isError"], false, "{me}");
    assert_eq!(me["result"]["structuredContent"]["user"], "carol", "{me}");

    drop(stdin);
    let status = child.wait().await.unwrap();
    assert!(
        status.success(),
        "the server exits when stdin closes: {status}"
    );
    dev.shutdown().await;
}
