//! Tools served on a transport that belongs to one user, the way `alter::mcp::stdio` serves
//! them: the user configured at start acts for every call.

use std::time::Duration;

use alter::rmcp::ServiceExt as _;
use serde_json::Value;
use tokio::io::duplex;

use crate::support::{Harness, call, plain_client};
use crate::tools::Tools;

const PIPE_BUFFER: usize = 64 * 1024;

#[tokio::test]
async fn configured_user_acts_for_every_call() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    harness.connect("bob", None).await;

    for user in ["alice", "bob"] {
        let (server_end, client_end) = duplex(PIPE_BUFFER);
        let tools = Tools::new(harness.vault.clone(), &harness.dev.demo_api_url(), "");
        let transport = alter::mcp::with_user(tokio::io::split(server_end), harness.token(user));
        let server = tokio::spawn(async move {
            let running = tools.serve(transport).await.expect("the server starts");
            running.waiting().await.expect("the server stops cleanly");
        });
        let client = plain_client()
            .serve(tokio::io::split(client_end))
            .await
            .expect("the client connects");

        for _ in 0..3 {
            let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
            assert_eq!(result.is_error, Some(false), "{result:?}");
            assert_eq!(result.structured_content.unwrap()["user"], user);
        }
        client.cancel().await.unwrap();
        server.await.unwrap();
    }

    harness.stop().await;
}
