//! The discovery requests a client makes against the combined quickstart app, in the order it
//! makes them, with the issuer configured as the MCP URL.

use alter::dev::DevVault;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::quickstart_app::{QuickstartApp, client};

#[tokio::test]
async fn discovery_sequence_ends_in_a_challenge() {
    let app = QuickstartApp::start(DevVault::builder()).await;
    let http = client();
    let mut statuses = Vec::new();
    for path in [
        "/.well-known/oauth-authorization-server/mcp",
        "/mcp/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = http.get(app.url(path)).send().await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "{path}: {status}");
        if status == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            let issuer = body
                .get("issuer")
                .or_else(|| body["authorization_servers"].get(0))
                .cloned();
            assert_eq!(issuer, Some(json!(app.mcp_url())), "{path}: {body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert_eq!(statuses[3], StatusCode::OK);

    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    let response = http
        .post(app.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    let metadata_url = app.url("/.well-known/oauth-protected-resource/mcp");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    app.stop().await;
}
