//! `McpAuth::create_connect_session`: a connect session for the configured providers and
//! their scopes, for the user of a call.

use std::time::Duration;

use alter::dev::DevVault;
use alter_examples::quickstart::{PROVIDER, mcp_auth};

use crate::quickstart_app::QuickstartApp;

#[tokio::test]
async fn connect_session_offers_the_configured_provider_and_scopes() {
    let app = QuickstartApp::start(DevVault::builder().auto_approve(true)).await;
    let auth = mcp_auth(&app.alter, &app.mcp_url()).expect("the MCP URL is valid");
    let alice = app.dev.user_token("alice");

    let session = auth
        .create_connect_session(alice.clone())
        .send()
        .await
        .expect("DevVault creates the session");
    let page = reqwest::get(&session.connect_url)
        .await
        .expect("DevVault answers");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let grants = app
        .alter
        .vault()
        .with_user_token(alice)
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .expect("the connect flow completes");

    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].provider_id, PROVIDER);
    assert!(
        grants[0]
            .scopes
            .iter()
            .any(|scope| scope == "messages.read"),
        "the grant carries the required scope: {:?}",
        grants[0].scopes
    );
    app.stop().await;
}
