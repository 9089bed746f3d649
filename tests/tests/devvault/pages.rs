//! The hosted connect pages and the demo consent page, driven the way a browser without
//! JavaScript would: links, redirects and form posts.

use alter::dev::{DevVault, ProviderConfig};
use reqwest::redirect::Policy;
use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{Client, json_of, start};

/// Builds a browser that does not follow redirects, so each hop can be checked.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Returns the `Location` of a 303 response.
fn location(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect"
    );
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Reads the `value` of the hidden consent field of the consent page.
fn consent_id(html: &str) -> String {
    let marker = r#"name="consent" value=""#;
    let start = html.find(marker).expect("consent page has a consent field") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

/// Opens the connect URL and returns the consent page HTML (DevVault without auto-approve).
async fn open_consent_page(connect_url: &str) -> String {
    let page = reqwest::get(connect_url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Authorize DevVault"), "{html}");
    html
}

async fn decide(dev: &DevVault, form: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    reqwest::Client::new()
        .post(format!("{}/demo/oauth/authorize", dev.base_url()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn consent_deny_reports_connect_denied() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let session = client
        .create_session(&dev.user_token("alice"), json!({}))
        .await;
    let token = session["session_token"].as_str().unwrap();
    assert_eq!(client.poll(token).await["status"], "pending");

    let html = open_consent_page(session["connect_url"].as_str().unwrap()).await;
    assert!(html.contains("messages.read"), "{html}");
    assert!(
        html.contains(r#"value="alice""#),
        "the account defaults to the user: {html}"
    );
    let denied = decide(
        &dev,
        &[("consent", &consent_id(&html)), ("decision", "deny")],
    )
    .await;
    assert_eq!(denied.status(), StatusCode::OK);
    assert!(denied.text().await.unwrap().contains("Not connected"));

    let poll = client.poll(token).await;
    assert_eq!(poll["status"], "error", "{poll}");
    assert_eq!(poll["error"]["error_code"], "connect_denied");
    assert!(!poll["error"]["error_message"].as_str().unwrap().is_empty());
    assert!(dev.grants().is_empty());
}

#[tokio::test]
async fn consent_approve_uses_chosen_account() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    let session = client.create_session(&alice, json!({})).await;
    let html = open_consent_page(session["connect_url"].as_str().unwrap()).await;
    let consent = consent_id(&html);

    let rejected = decide(
        &dev,
        &[
            ("consent", &consent),
            ("decision", "approve"),
            ("account", "Not Valid"),
        ],
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    let page = rejected.text().await.unwrap();
    assert!(page.contains("invalid user name"), "{page}");
    assert!(page.contains(&consent), "the form is shown again: {page}");

    let approved = decide(
        &dev,
        &[
            ("consent", &consent),
            ("decision", "approve"),
            ("account", "alice-work"),
        ],
    )
    .await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert!(approved.text().await.unwrap().contains("alice-work"));

    let poll = client
        .poll(session["session_token"].as_str().unwrap())
        .await;
    assert_eq!(poll["status"], "completed", "{poll}");
    assert_eq!(poll["grants"][0]["account_identifier"], "alice-work");
    let grant = dev.grant_for("alice", "demo").unwrap();
    assert_eq!(grant.account_identifier.as_deref(), Some("alice-work"));

    let replay = decide(
        &dev,
        &[
            ("consent", &consent),
            ("decision", "approve"),
            ("account", "x"),
        ],
    )
    .await;
    assert_eq!(
        replay.status(),
        StatusCode::BAD_REQUEST,
        "a consent is answered once"
    );
}

#[tokio::test]
async fn hops_are_redirects_with_pkce_and_state() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let session = client
        .create_session(
            &dev.user_token("alice"),
            json!({"return_url": "http://127.0.0.1:9/done?x=1"}),
        )
        .await;
    assert_eq!(session["single_provider"], true);
    assert_eq!(session["expires_in"], 600);
    assert!(session["expires_at"].as_str().unwrap().ends_with('Z'));
    let browser = browser();

    let to_provider = browser
        .get(session["connect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let authorize = url::Url::parse(&location(&to_provider)).unwrap();
    assert_eq!(authorize.path(), "/demo/oauth/authorize");
    let params: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert_eq!(params["redirect_uri"], dev.callback_url());
    assert_eq!(params["login_hint"], "alice");
    assert!(!params["state"].is_empty());

    let to_callback = browser.get(authorize.as_str()).send().await.unwrap();
    let callback = url::Url::parse(&location(&to_callback)).unwrap();
    assert_eq!(callback.path(), "/connect/callback");
    let callback_params: std::collections::HashMap<String, String> =
        callback.query_pairs().into_owned().collect();
    assert_eq!(callback_params["state"], params["state"]);

    let done = browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(location(&done), "http://127.0.0.1:9/done?x=1");
    let poll = client
        .poll(session["session_token"].as_str().unwrap())
        .await;
    assert_eq!(poll["status"], "completed");

    let replayed = browser.get(callback.as_str()).send().await.unwrap();
    assert_eq!(
        replayed.status(),
        StatusCode::BAD_REQUEST,
        "a state is used once"
    );
    let finished = browser
        .get(session["connect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(finished.text().await.unwrap().contains("Already connected"));
}

#[tokio::test]
async fn return_url_is_normalized() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let session = client
        .create_session(
            &dev.user_token("alice"),
            json!({"return_url": "http://127.0.0.1:9/dó\nne?x=é y"}),
        )
        .await;
    let browser = browser();
    let mut url = session["connect_url"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        url = location(&browser.get(&url).send().await.unwrap());
    }
    let done = browser.get(&url).send().await.unwrap();
    assert_eq!(location(&done), "http://127.0.0.1:9/d%C3%B3ne?x=%C3%A9%20y");
}

#[tokio::test]
async fn cancel_reports_connect_denied() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let session = client
        .create_session(&dev.user_token("alice"), json!({}))
        .await;
    let page_path = session["connect_url"].as_str().unwrap();
    let cancelled = reqwest::Client::new()
        .post(format!("{page_path}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let poll = client
        .poll(session["session_token"].as_str().unwrap())
        .await;
    assert_eq!(poll["error"]["error_code"], "connect_denied");
}

#[tokio::test]
async fn unknown_links_render_not_found() {
    let dev = start(true).await;
    let unknown = reqwest::get(format!("{}/connect/nope", dev.base_url()))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let content_type = unknown.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");

    let callback = reqwest::get(format!(
        "{}/connect/callback?state=forged&code=x",
        dev.base_url()
    ))
    .await
    .unwrap();
    assert_eq!(callback.status(), StatusCode::BAD_REQUEST);
    let no_state = reqwest::get(format!("{}/connect/callback", dev.base_url()))
        .await
        .unwrap();
    assert_eq!(no_state.status(), StatusCode::BAD_REQUEST);
}

async fn dev_with_second_provider(display_name: &str) -> DevVault {
    // The second provider's endpoints are never called by these tests.
    let second = ProviderConfig::new(
        "acme",
        "http://127.0.0.1:9/authorize",
        "http://127.0.0.1:9/token",
        "client",
    )
    .display_name(display_name);
    DevVault::builder()
        .auto_approve(true)
        .provider(second)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn choice_page_lists_providers() {
    let dev = dev_with_second_provider("Acme").await;
    let client = Client::new(&dev);
    let session = client
        .create_session(&dev.user_token("alice"), json!({"allowed_providers": null}))
        .await;
    assert_eq!(session["single_provider"], false);
    let connect_url = session["connect_url"].as_str().unwrap();
    let page = browser().get(connect_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Demo provider"), "{html}");
    assert!(html.contains("Acme"), "{html}");

    let chosen = reqwest::get(format!("{connect_url}/authorize?provider=demo"))
        .await
        .unwrap();
    assert_eq!(
        chosen.status(),
        StatusCode::OK,
        "auto-approved flow completes"
    );
    let poll = client
        .poll(session["session_token"].as_str().unwrap())
        .await;
    assert_eq!(poll["grants"][0]["provider_id"], "demo");

    let other = client
        .create_session(
            &dev.user_token("bob"),
            json!({"allowed_providers": ["acme"]}),
        )
        .await;
    let not_offered = reqwest::get(format!(
        "{}/authorize?provider=demo",
        other["connect_url"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(not_offered.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn connect_pages_escape_html() {
    let evil = r#"<script>alert("x")</script> & 'co'"#;
    let dev = dev_with_second_provider(evil).await;
    let client = Client::new(&dev);
    let session = client
        .create_session(
            &dev.user_token("alice"),
            json!({"allowed_providers": null, "requested_grant": {"label": evil}}),
        )
        .await;
    let html = reqwest::get(session["connect_url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"),
        "{html}"
    );

    let bad_client = reqwest::get(format!(
        "{}/demo/oauth/authorize?client_id=%3Cimg%20src%3Dx%3E",
        dev.base_url()
    ))
    .await
    .unwrap();
    assert_eq!(bad_client.status(), StatusCode::BAD_REQUEST);
    let html = bad_client.text().await.unwrap();
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img src=x&gt;"), "{html}");
}

#[tokio::test]
async fn provider_error_is_reported_and_escaped() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let session = client
        .create_session(
            &dev.user_token("alice"),
            json!({"required_scopes": {"demo": ["<b>admin</b>"]}}),
        )
        .await;
    let page = reqwest::get(session["connect_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
    let html = page.text().await.unwrap();
    assert!(html.contains("invalid_scope"), "{html}");
    assert!(!html.contains("<b>admin"), "{html}");
    assert!(html.contains("&lt;b&gt;admin&lt;/b&gt;"), "{html}");

    let poll = client
        .poll(session["session_token"].as_str().unwrap())
        .await;
    assert_eq!(poll["status"], "error");
    assert_eq!(poll["error"]["error_code"], "provider_authorization_failed");
}

#[tokio::test]
async fn demo_authorize_requires_pkce() {
    let dev = start(true).await;
    let mut url = url::Url::parse(&format!("{}/demo/oauth/authorize", dev.base_url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "devvault")
        .append_pair("redirect_uri", &dev.callback_url())
        .append_pair("state", "s1");
    let response = browser().get(url).send().await.unwrap();
    let back = url::Url::parse(&location(&response)).unwrap();
    let params: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "s1");
}

#[tokio::test]
async fn demo_token_endpoint_rejects_bad_requests() {
    let dev = start(true).await;
    let token_url = format!("{}/demo/oauth/token", dev.base_url());
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(&token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let (status, body) = json_of(post("grant_type=authorization_code&code=x").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    let basic = http
        .post(&token_url)
        .basic_auth("devvault", Some("wrong"))
        .body("grant_type=refresh_token&refresh_token=x")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert!(basic.headers().contains_key(header::WWW_AUTHENTICATE));
}
