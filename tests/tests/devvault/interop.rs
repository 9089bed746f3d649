//! Another implementation of the protocol against DevVault: the official Python SDK runs
//! `interop/devvault_python_sdk.py`, which connects the demo provider and calls its API with
//! `request()`, and `interop/devvault_python_signin_proxy.py`, which signs a user in and makes
//! a proxied call that waits for an approval.

use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;

use crate::support::start;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/interop/devvault_python_sdk.py"
);
const SIGNIN_PROXY_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/interop/devvault_python_signin_proxy.py"
);

/// Returns why the Python SDK cannot run here, or `None` when `import alter_sdk` works.
async fn python_sdk_missing() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import alter_sdk"])
        .output()
        .await;
    match probe {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(error) => Some(format!("python3 cannot be started: {error}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::print_stderr,
    reason = "a skipped test says why, so a missing Python SDK is not mistaken for a pass"
)]
async fn python_sdk_request_through_devvault() {
    if let Some(reason) = python_sdk_missing().await {
        eprintln!(
            "SKIPPED python_sdk_request_through_devvault: `python3 -c \"import alter_sdk\"` \
             failed ({reason}); install it with `pip install alter-sdk==0.29.0`"
        );
        return;
    }
    let dev = start(true).await;
    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg("py-user")
        .env("ALTER_BASE_URL", dev.base_url())
        .env("ALTER_API_KEY", dev.api_key().expose_secret())
        .env("ALTER_DEMO_API_URL", dev.demo_api_url())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "script failed\nstdout: {stdout}\nstderr: {stderr}"
    );

    let summary: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    assert_eq!(summary["me"]["user"], "py-user");
    let grant = dev
        .grant_for("py-user", "demo")
        .expect("the script connected a grant");
    assert_eq!(summary["grant_id"], grant.id.to_string());

    // The SDK writes one audit row per provider call and awaits them in close().
    let log = dev.audit_log();
    assert_eq!(log.len(), 2, "{log:#?}");
    let by_method = |method: &str| {
        log.iter()
            .find(|record| record.method == method)
            .unwrap_or_else(|| panic!("no {method} audit row: {log:#?}"))
    };
    let me = by_method("GET");
    assert_eq!(me.user, "py-user");
    assert_eq!(me.grant_id, grant.id);
    assert_eq!(me.method, "GET");
    assert_eq!(me.url, format!("{}/me", dev.demo_api_url()));
    assert_eq!(me.response_status, 200);
    assert_eq!(me.reason.as_deref(), Some("interop profile check"));
    assert_eq!(me.context.as_ref().unwrap()["tool"], "interop");
    assert_eq!(
        me.row["request_headers"]["User-Agent"],
        "alter-sdk-python/0.29.0"
    );
    assert!(me.caller.is_none());

    let posted = by_method("POST");
    assert_eq!(posted.response_status, 201);
    assert_eq!(posted.row["request_body"]["text"], "hello from python");
    assert_eq!(posted.caller.as_deref(), Some("interop-agent"));
    assert_eq!(posted.caller_type.as_deref(), Some("agent"));
    assert!(
        !stderr.contains("audit"),
        "the SDK logged an audit failure: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::print_stderr,
    reason = "a skipped test says why, so a missing Python SDK is not mistaken for a pass"
)]
async fn python_sdk_signin_and_proxy_through_devvault() {
    if let Some(reason) = python_sdk_missing().await {
        eprintln!(
            "SKIPPED python_sdk_signin_and_proxy_through_devvault: `python3 -c \"import \
             alter_sdk\"` failed ({reason}); install it with `pip install alter-sdk==0.29.0`"
        );
        return;
    }
    let dev = alter::dev::DevVault::builder()
        .auto_approve(true)
        .sign_in_as("py-signin")
        .require_approval(true)
        .start()
        .await
        .expect("DevVault starts");
    let output = Command::new("python3")
        .arg(SIGNIN_PROXY_SCRIPT)
        .arg("py-signin")
        .env("ALTER_BASE_URL", dev.base_url())
        .env("ALTER_API_KEY", dev.api_key().expose_secret())
        .env("ALTER_DEMO_API_URL", dev.demo_api_url())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "script failed\nstdout: {stdout}\nstderr: {stderr}"
    );

    let summary: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    assert_eq!(summary["subject"], "py-signin");
    assert_eq!(summary["me"]["user"], "py-signin");
    assert_eq!(summary["result_approval_id"], summary["approval_id"]);
    let approvals = dev.approvals();
    assert_eq!(approvals.len(), 1, "{approvals:#?}");
    assert_eq!(approvals[0].status, "executed");
    assert_eq!(
        approvals[0].approval_id.to_string(),
        summary["approval_id"].as_str().unwrap()
    );
    let log = dev.audit_log();
    assert_eq!(
        log.len(),
        1,
        "DevVault wrote the proxied call's row: {log:#?}"
    );
    assert_eq!(log[0].row["source"], "proxy");
}
