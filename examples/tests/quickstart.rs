//! Runs the quickstart example binary, as a user would, and follows its printed instructions.

mod support;

use std::process::Command;

use support::{Example, require_tool, shell};

#[test]
fn printed_commands_work_verbatim() {
    require_tool("curl");
    require_tool("sed");
    let mut quickstart = Example::start("quickstart");
    let token = quickstart.token();

    let connect = shell(&quickstart.command_after("2."), &token);
    let session: serde_json::Value = serde_json::from_str(&connect).unwrap();
    assert!(
        session["connect_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(!session["session_token"].as_str().unwrap().is_empty());

    let chat_before = shell(&quickstart.command_after("4."), &token);
    let error: serde_json::Value = serde_json::from_str(&chat_before).unwrap();
    assert_eq!(error["connect_required"], true, "{chat_before}");
    assert_eq!(error["provider"], "demo", "{chat_before}");

    shell(&quickstart.command_after("3."), &token);

    let chat = shell(&quickstart.command_after("4."), &token);
    let profile: serde_json::Value = serde_json::from_str(&chat).unwrap();
    assert_eq!(profile["user"], "alice", "{chat}");

    let metadata = shell(&quickstart.command_after("5."), &token);
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    let mcp_url = format!("{}/mcp", quickstart.app_url());
    assert_eq!(metadata["resource"], mcp_url.as_str(), "{metadata}");
    assert_eq!(
        metadata["authorization_servers"][0],
        mcp_url.as_str(),
        "{metadata}"
    );

    let status = quickstart.interrupt();
    assert!(
        status.success(),
        "the quickstart exits cleanly on Ctrl-C: {status}"
    );
}

#[test]
fn printed_commands_work_against_alter_dev() {
    require_tool("curl");
    require_tool("sed");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dev = runtime
        .block_on(alter::dev::DevVault::builder().auto_approve(true).start())
        .expect("DevVault starts");
    let mut quickstart = Example::start_with(
        "quickstart",
        &[
            ("ALTER_API_KEY", dev.api_key().expose_secret().to_owned()),
            ("ALTER_BASE_URL", dev.base_url().to_owned()),
            ("ALTER_DEMO_API_URL", dev.demo_api_url()),
        ],
    );

    let token = quickstart.token_from_export_line();
    assert!(token.starts_with("eyJ"), "not a user token: {token:?}");
    shell(&quickstart.command_after("2."), &token);
    shell(&quickstart.command_after("3."), &token);
    let chat = shell(&quickstart.command_after("4."), &token);
    let profile: serde_json::Value = serde_json::from_str(&chat).unwrap();
    assert_eq!(profile["user"], "alice", "{chat}");

    let status = quickstart.interrupt();
    assert!(status.success(), "the quickstart exits cleanly: {status}");
    runtime.block_on(dev.shutdown());
}

#[test]
fn app_rejects_missing_bearer() {
    require_tool("curl");
    let quickstart = Example::start("quickstart");
    let url = format!("{}/chat", quickstart.app_url());
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            &url,
        ])
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "401");
}
