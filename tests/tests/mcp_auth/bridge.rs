//! The sign-in bridge page: completing without scripts, failed and expired sign-ins, injection
//! attempts and unknown handles.

use std::time::Duration;

use alter::dev::{DevVault, DevVaultBuilder};
use reqwest::StatusCode;
use serde_json::Value;

use crate::quickstart_app::{QuickstartApp, REDIRECT_URI, client, location, query_parameter};

/// DevVault whose consent pages approve at once but whose sign-in page waits for the user.
pub(crate) fn sign_in_page() -> DevVaultBuilder {
    DevVault::builder()
        .auto_approve(true)
        .auto_approve_sign_in(false)
}

/// Returns the text between `start` and the next `end` in `html`.
pub(crate) fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in {html}"))
        + start.len();
    let length = html[from..].find(end).expect("the end marker");
    &html[from..from + length]
}

/// Starts an authorization with `state` and returns the bridge page URL it redirects to.
async fn start_bridge(app: &QuickstartApp, state: &str) -> String {
    let client_id = app.register().await;
    let response = client()
        .get(app.authorize_url(&client_id, &[("state", Some(state))]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let bridge = location(&response).expect("a Location header");
    assert!(
        bridge.starts_with(&app.url("/auth-bridge?pending=")),
        "{bridge}"
    );
    bridge
}

/// Signs `user` in on DevVault's page, whose link the bridge page at `bridge` shows.
pub(crate) async fn sign_in_on_page(bridge: &str, user: &str) {
    let html = client()
        .get(bridge)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sign_in_url = between(&html, "id=\"sign-in\" href=\"", "\"").to_owned();
    let signed_in = client()
        .post(&sign_in_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
}

async fn poll(app: &QuickstartApp, bridge: &str) -> (StatusCode, Value) {
    let handle = query_parameter(bridge, "pending").unwrap();
    let response = client()
        .get(app.url(&format!("/auth-bridge/poll?pending={handle}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn bridge_completes_without_scripts() {
    let app = QuickstartApp::start(sign_in_page()).await;
    let bridge = start_bridge(&app, "state-123").await;

    let page = client().get(&bridge).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("script-src 'nonce-"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert_eq!(between(&html, "<strong id=\"client\">", "<"), "flow-test");
    assert_eq!(
        between(&html, "<code id=\"return-to\">", "<"),
        "http://127.0.0.1:3999"
    );
    let refresh = between(&html, "content=\"3;url=", "\"").to_owned();
    let sign_in_url = between(&html, "id=\"sign-in\" href=\"", "\"").to_owned();
    assert!(
        sign_in_url.starts_with(&format!("{}/signin/", app.dev.base_url())),
        "{sign_in_url}"
    );
    assert_eq!(poll(&app, &bridge).await.1["status"], "pending");

    // The user signs in on DevVault's page, with plain HTTP.
    let signed_in = client()
        .post(&sign_in_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);

    // The reload that the page requests without scripts redirects the browser with the code.
    let reloaded = client().get(app.url(&refresh)).send().await.unwrap();
    assert_eq!(reloaded.status(), StatusCode::FOUND);
    let target = location(&reloaded).unwrap();
    assert!(
        target.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{target}"
    );
    assert_eq!(
        query_parameter(&target, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_parameter(&target, "iss"), Some(app.mcp_url()));

    // The code was issued once; the handle is spent.
    let (status, body) = poll(&app, &bridge).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "error");
    app.stop().await;
}

#[tokio::test]
async fn poll_reports_completed_redirect() {
    let app = QuickstartApp::start(sign_in_page()).await;
    let bridge = start_bridge(&app, "state-123").await;
    sign_in_on_page(&bridge, "bob").await;
    let (status, body) = poll(&app, &bridge).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "completed", "{body}");
    let target = body["redirect_url"].as_str().unwrap();
    assert!(
        target.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{target}"
    );
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_in_shown_as_failed() {
    let app = QuickstartApp::start(sign_in_page()).await;
    let bridge = start_bridge(&app, "state-123").await;
    let html = client()
        .get(&bridge)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sign_in_url = between(&html, "id=\"sign-in\" href=\"", "\"").to_owned();
    let cancelled = client()
        .post(format!("{sign_in_url}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);

    let (status, body) = poll(&app, &bridge).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error_message"], "the user cancelled the sign-in");

    let page = client().get(&bridge).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sign-in failed: the user cancelled the sign-in"),
        "{html}"
    );
    let back = between(&html, "class=\"button\" href=\"", "\"").replace("&amp;", "&");
    assert_eq!(
        query_parameter(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_parameter(&back, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_parameter(&back, "code"), None);
    app.stop().await;
}

#[tokio::test]
async fn expired_sign_in_shown_as_expired() {
    let app =
        QuickstartApp::start(sign_in_page().sign_in_session_lifetime(Duration::from_secs(2))).await;
    let bridge = start_bridge(&app, "state-123").await;
    // DevVault counts session lifetimes in whole seconds; wait until this one has passed.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let page = client().get(&bridge).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign-in expired"), "{html}");
    assert!(!html.contains("Waiting for you"), "{html}");

    // The expired authorization is gone.
    let (status, body) = poll(&app, &bridge).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "error");
    app.stop().await;
}

#[tokio::test]
async fn injection_through_state_is_escaped() {
    let app = QuickstartApp::start(sign_in_page()).await;
    let hostile = "\"><script>alert(1)</script></script><img src=x onerror=alert(2)>'\u{2028}";
    let bridge = start_bridge(&app, hostile).await;

    let page = client().get(&bridge).send().await.unwrap();
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("alert("), "{html}");
    let sign_in_url = between(&html, "id=\"sign-in\" href=\"", "\"").to_owned();

    client()
        .post(format!("{sign_in_url}/cancel"))
        .send()
        .await
        .unwrap();
    let failed = client().get(&bridge).send().await.unwrap();
    assert!(failed.headers().contains_key("content-security-policy"));
    let html = failed.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("onerror=alert"), "{html}");
    assert!(!html.contains(hostile), "{html}");
    // The state still reaches the client unchanged through the link.
    let back = between(&html, "class=\"button\" href=\"", "\"").replace("&amp;", "&");
    assert_eq!(query_parameter(&back, "state").as_deref(), Some(hostile));

    // A redirect URI carrying markup is unregistered: an error page that does not repeat it.
    let client_id = app.register().await;
    let response = client()
        .get(app.authorize_url(
            &client_id,
            &[(
                "redirect_uri",
                Some("http://127.0.0.1:3999/callback?x=\"><script>alert(3)</script>"),
            )],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(location(&response).is_none());
    assert!(response.headers().contains_key("content-security-policy"));
    assert!(!response.text().await.unwrap().contains("alert(3)"));
    app.stop().await;
}

#[tokio::test]
async fn hostile_client_name_escaped() {
    let app = QuickstartApp::start(sign_in_page()).await;
    let registration = serde_json::json!({
        "client_name": "<script>alert(4)</script>",
        "redirect_uris": [REDIRECT_URI],
    });
    let registered: Value = client()
        .post(app.url("/register"))
        .json(&registration)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();
    let response = client()
        .get(app.authorize_url(client_id, &[]))
        .send()
        .await
        .unwrap();
    let bridge = location(&response).expect("a Location header");

    let html = client()
        .get(&bridge)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("alert(4)</script>"), "{html}");
    assert_eq!(
        between(&html, "<strong id=\"client\">", "</strong>"),
        "&lt;script&gt;alert(4)&lt;/script&gt;"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_handles_rejected() {
    let app = QuickstartApp::start(sign_in_page()).await;
    let cases = [
        "/auth-bridge",
        "/auth-bridge?pending=",
        "/auth-bridge?pending=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/auth-bridge?pending=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ];
    for path in cases {
        let response = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(location(&response).is_none(), "{path}");
        let html = response.text().await.unwrap();
        assert!(!html.contains("alert("), "{html}");
        assert!(html.contains("unknown or expired"), "{html}");
    }
    let response = client()
        .get(app.url("/auth-bridge/poll?pending=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
    app.stop().await;
}
