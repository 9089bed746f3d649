//! Runs the quickstart example binary, as a user would, and follows its printed instructions.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{Example, RedisProcess, free_port, require_tool, shell};

/// The PKCE verifier and challenge of the example in RFC 7636, appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT_URI: &str = "http://127.0.0.1:3999/callback";
/// A fixed 32-byte key in base64, so that consecutive processes can read each other's records.
const AUTH_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

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

/// Runs `curl -s` with `args` and returns its standard output.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .arg("-s")
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("curl prints UTF-8")
}

/// Sends the authorization request for `client_id` and returns the status and the redirect
/// target, separated by a space.
fn authorize(app: &str, client_id: &str) -> String {
    let resource = format!("resource={app}/mcp");
    let client = format!("client_id={client_id}");
    let redirect_uri = format!("redirect_uri={REDIRECT_URI}");
    let challenge = format!("code_challenge={CHALLENGE}");
    let url = format!("{app}/authorize");
    let mut args = vec![
        "-G",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
    ];
    for parameter in [
        "response_type=code",
        &client,
        &redirect_uri,
        &challenge,
        "code_challenge_method=S256",
        "state=restart",
        &resource,
    ] {
        args.extend(["--data-urlencode", parameter]);
    }
    args.push(&url);
    curl(&args)
}

/// Sends an MCP `initialize` request, with `token` as the bearer when given, and returns the
/// status.
fn initialize(app: &str, token: Option<&str>) -> String {
    let body = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "restart-test", "version": "1"},
        },
    })
    .to_string();
    let authorization = token.map(|token| format!("authorization: Bearer {token}"));
    let url = format!("{app}/mcp");
    let mut args = vec![
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "content-type: application/json",
        "-H",
        "accept: application/json, text/event-stream",
        "-d",
        &body,
    ];
    if let Some(authorization) = &authorization {
        args.extend(["-H", authorization]);
    }
    args.push(&url);
    curl(&args)
}

/// With `REDIS_URL` set, the authorization server's clients and tokens live in Redis: a second
/// quickstart process on the same address accepts what the first one issued, and a process that
/// keeps its state in memory does not.
#[test]
fn redis_state_survives_restart() {
    require_tool("curl");
    let redis = RedisProcess::start();
    let bind = format!("127.0.0.1:{}", free_port());
    let auto_approve = ("ALTER_DEV_AUTO_APPROVE", "1".to_owned());
    let env = [
        ("REDIS_URL", redis.url()),
        ("ALTER_MCP_AUTH_KEY", AUTH_KEY.to_owned()),
        auto_approve.clone(),
    ];

    let mut first = Example::start_on("quickstart", &bind, &env);
    let app = first.app_url();
    let registration = json!({
        "client_name": "restart-test",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    let registered: Value = serde_json::from_str(&curl(&[
        "-H",
        "content-type: application/json",
        "-d",
        &registration,
        &format!("{app}/register"),
    ]))
    .unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let answer = authorize(&app, &client_id);
    let (status, target) = answer.split_once(' ').unwrap();
    assert_eq!(status, "302", "{answer}");
    let code = target
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap_or_else(|| panic!("no code in {target}"));
    let tokens: Value = serde_json::from_str(&curl(&[
        "--data-urlencode",
        "grant_type=authorization_code",
        "--data-urlencode",
        &format!("code={code}"),
        "--data-urlencode",
        &format!("redirect_uri={REDIRECT_URI}"),
        "--data-urlencode",
        &format!("client_id={client_id}"),
        "--data-urlencode",
        &format!("code_verifier={VERIFIER}"),
        &format!("{app}/token"),
    ]))
    .unwrap();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(initialize(&app, Some(&access_token)), "200");
    assert!(first.interrupt().success());

    let mut second = Example::start_on("quickstart", &bind, &env);
    let known = authorize(&app, &client_id);
    assert!(known.starts_with("302 "), "{known}");
    let unknown = authorize(&app, "unknown-client");
    assert!(unknown.starts_with("400 "), "{unknown}");
    assert_eq!(initialize(&app, Some(&access_token)), "200");
    assert_eq!(initialize(&app, None), "401");
    assert!(second.interrupt().success());

    let mut in_memory = Example::start_on("quickstart", &bind, &[auto_approve]);
    let forgotten = authorize(&app, &client_id);
    assert!(forgotten.starts_with("400 "), "{forgotten}");
    assert_eq!(initialize(&app, Some(&access_token)), "401");
    assert!(in_memory.interrupt().success());
}
