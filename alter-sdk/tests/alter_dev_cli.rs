//! The `alter-dev` binary: its first output lines, a request against it, and a clean exit on
//! SIGINT.
#![cfg(all(feature = "dev", unix))]

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_alter-dev");

#[tokio::test]
async fn prints_exports_first_and_stops_on_interrupt() {
    let mut child = Command::new(BINARY)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--auto-approve",
            "--sign-in-as",
            "carol",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("alter-dev starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut first_lines = Vec::new();
    for _ in 0..5 {
        first_lines.push(lines.next_line().await.unwrap().expect("a setup line"));
    }

    let base_url = first_lines[0]
        .strip_prefix("export ALTER_BASE_URL=")
        .expect("the first line exports ALTER_BASE_URL");
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    let api_key = first_lines[1]
        .strip_prefix("export ALTER_API_KEY=")
        .expect("the second line exports ALTER_API_KEY");
    assert!(alter::protocol::api_key::is_valid_key(api_key));
    assert!(api_key.starts_with("alter_rk_"));
    assert_eq!(
        first_lines[2],
        format!("export ALTER_DEMO_API_URL={base_url}/demo/api")
    );
    assert!(first_lines[3].starts_with('#'), "{}", first_lines[3]);
    assert_eq!(
        first_lines[4],
        format!("#   curl -s -X POST {base_url}/dev/users/alice/token")
    );

    let minted = reqwest::Client::new()
        .post(format!("{base_url}/dev/users/alice/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), reqwest::StatusCode::OK);

    // --auto-approve completes a new sign-in session at once, as the --sign-in-as user.
    let vault = alter::Vault::builder(api_key)
        .base_url(base_url)
        .build()
        .unwrap();
    let session = vault.create_auth_session().await.unwrap();
    let status = vault
        .auth_session_status(&session.session_token)
        .await
        .unwrap();
    let alter::vault::AuthStatus::Completed(user) = status else {
        panic!("the sign-in session is not completed: {status:?}");
    };
    assert_eq!(user.user_info["sub"], "carol");

    let pid = child.id().expect("alter-dev is running").to_string();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().await.unwrap();
    assert!(
        status.success(),
        "alter-dev exits cleanly on SIGINT: {status}"
    );

    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains(api_key), "logs never contain the API key");
}

#[tokio::test]
async fn help_and_bad_arguments() {
    let help = Command::new(BINARY).arg("--help").output().await.unwrap();
    assert!(help.status.success());
    let usage = String::from_utf8(help.stdout).unwrap();
    assert!(usage.contains("--auto-approve"), "{usage}");
    assert!(usage.contains("--bind ADDR"), "{usage}");
    assert!(usage.contains("--sign-in-as NAME"), "{usage}");

    let bad_user = Command::new(BINARY)
        .args(["--bind", "127.0.0.1:0", "--sign-in-as", "Not A Name"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad_user.status.code(), Some(1));
    let message = String::from_utf8(bad_user.stderr).unwrap();
    assert!(
        message.contains("sign_in_as: invalid user name"),
        "{message}"
    );

    let bad = Command::new(BINARY).arg("--port").output().await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let message = String::from_utf8(bad.stderr).unwrap();
    assert!(message.contains("unknown argument \"--port\""), "{message}");

    let occupied = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = occupied.local_addr().unwrap().to_string();
    let busy = Command::new(BINARY)
        .args(["--bind", &address])
        .output()
        .await
        .unwrap();
    assert_eq!(busy.status.code(), Some(1));
    let message = String::from_utf8(busy.stderr).unwrap();
    assert!(
        message.contains(&format!("cannot listen on {address}")),
        "{message}"
    );
}
