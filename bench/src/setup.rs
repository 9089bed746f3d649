//! Dev users for the load runs: each gets a DevVault user token and a connected demo grant.

use std::time::Duration;

use serde_json::Value;

use crate::signed::TokenRequests;

/// The servers the setup sends its requests to.
#[derive(Clone, Debug)]
pub struct SetupTarget {
    /// DevVault's base URL, e.g. `http://127.0.0.1:8787`.
    pub backend_url: String,
    /// The quickstart app's URL, whose `GET /connect` creates a connect session.
    pub app_url: String,
}

/// Mints a user token for each of `users` dev users named `{prefix}{index}`, connects the demo
/// provider for each through the quickstart's `/connect`, and checks that `POST /chat` then
/// returns that user's profile. Returns the user tokens in order.
///
/// DevVault must run with auto-approve, so that fetching a connect URL completes the flow.
///
/// # Errors
///
/// Returns a message naming the user and the step that failed.
pub async fn connect_users(
    target: &SetupTarget,
    prefix: &str,
    users: usize,
) -> Result<Vec<String>, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("failed to build the HTTP client: {e}"))?;
    let mut tokens = Vec::with_capacity(users);
    for index in 0..users {
        let name = format!("{prefix}{index}");
        let token = connect_user(&client, target, &name)
            .await
            .map_err(|e| format!("setting up user {name} failed: {e}"))?;
        tokens.push(token);
    }
    Ok(tokens)
}

async fn connect_user(
    client: &reqwest::Client,
    target: &SetupTarget,
    name: &str,
) -> Result<String, String> {
    let minted = json_of(
        client
            .post(format!("{}/dev/users/{name}/token", target.backend_url))
            .send()
            .await,
    )
    .await?;
    let token = minted["user_token"]
        .as_str()
        .ok_or("the token response has no user_token")?
        .to_owned();

    let session = json_of(
        client
            .get(format!("{}/connect", target.app_url))
            .bearer_auth(&token)
            .send()
            .await,
    )
    .await?;
    let connect_url = session["connect_url"]
        .as_str()
        .ok_or("the /connect response has no connect_url")?;
    let consent = client
        .get(connect_url)
        .send()
        .await
        .map_err(|e| format!("opening the connect URL failed: {e}"))?;
    if !consent.status().is_success() {
        return Err(format!(
            "the connect flow ended with status {}",
            consent.status()
        ));
    }

    let profile = json_of(
        client
            .post(format!("{}/chat", target.app_url))
            .bearer_auth(&token)
            .send()
            .await,
    )
    .await?;
    if profile["user"] != name {
        return Err(format!("POST /chat answered for another user: {profile}"));
    }
    Ok(token)
}

/// Fetches the demo provider's access token of the first user, for the floor server, with one
/// signed `POST /sdk/token`.
///
/// # Errors
///
/// Returns a message when the backend rejects the request or returns no token.
pub async fn fetch_access_token(
    requests: &TokenRequests,
    user_token: &str,
) -> Result<String, String> {
    let client = reqwest::Client::new();
    let request = reqwest::Request::try_from(requests.request(user_token))
        .map_err(|e| format!("invalid token request: {e}"))?;
    let reply = json_of(client.execute(request).await).await?;
    reply["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the token response has no access_token".to_owned())
}

/// Reads a successful JSON response, or describes the failure.
async fn json_of(result: reqwest::Result<reqwest::Response>) -> Result<Value, String> {
    let response = result.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let url = response.url().path().to_owned();
    let body = response
        .text()
        .await
        .map_err(|e| format!("failed to read the response of {url}: {e}"))?;
    if !status.is_success() {
        let start: String = body.chars().take(300).collect();
        return Err(format!("{url} answered {status}: {start}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{url} answered invalid JSON: {e}"))
}
