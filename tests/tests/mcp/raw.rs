//! A JSON-RPC client over plain HTTP, for what rmcp's client cannot do: send another bearer
//! token on each request of one session.

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

const SESSION_HEADER: &str = "mcp-session-id";
const PROTOCOL_HEADER: &str = "mcp-protocol-version";
const PROTOCOL_VERSION: &str = "2025-11-25";

/// One MCP session, opened with `initialize`.
pub(crate) struct RawSession {
    http: reqwest::Client,
    url: String,
    session_id: String,
}

impl RawSession {
    /// Opens a session at `url` as the user with `token`.
    pub(crate) async fn open(url: &str, token: &str) -> Self {
        let http = reqwest::Client::new();
        let initialize = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "alter-tests-raw", "version": "0"},
            },
        });
        let response = post(&http, url, token, None, &initialize).await;
        let session_id = response
            .headers()
            .get(SESSION_HEADER)
            .expect("the server opens a session")
            .to_str()
            .unwrap()
            .to_owned();
        let reply = last_message(&response.text().await.unwrap());
        assert_eq!(
            reply["result"]["protocolVersion"], PROTOCOL_VERSION,
            "{reply}"
        );

        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = post(&http, url, token, Some(&session_id), &initialized).await;
        assert_eq!(response.status(), 202);
        Self {
            http,
            url: url.to_owned(),
            session_id,
        }
    }

    /// Calls `tool` as the user with `token` and returns the JSON-RPC response.
    pub(crate) async fn call(&self, token: &str, id: u64, tool: &str, arguments: Value) -> Value {
        let authorization = format!("Bearer {token}");
        self.call_with_headers(&[("authorization", &authorization)], id, tool, arguments)
            .await
    }

    /// Calls `tool` with `headers` on the request and returns the JSON-RPC response.
    pub(crate) async fn call_with_headers(
        &self,
        headers: &[(&str, &str)],
        id: u64,
        tool: &str,
        arguments: Value,
    ) -> Value {
        let request = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        });
        let mut builder = self
            .http
            .post(&self.url)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .header(SESSION_HEADER, &self.session_id)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = builder
            .json(&request)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 200);
        last_message(&response.text().await.unwrap())
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    session_id: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = http
        .post(url)
        .header(ACCEPT, "application/json, text/event-stream")
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(session_id) = session_id {
        request = request
            .header(SESSION_HEADER, session_id)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION);
    }
    request.json(body).send().await.expect("the server answers")
}

/// Returns the last JSON message of an SSE or JSON body.
fn last_message(body: &str) -> Value {
    if let Ok(value) = serde_json::from_str(body) {
        return value;
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .filter_map(|data| serde_json::from_str(data).ok())
        .next_back()
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}
