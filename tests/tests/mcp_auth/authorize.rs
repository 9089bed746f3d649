//! `/authorize`: the immediate redirect under auto-approved sign-in, and every way a request
//! is rejected.

use alter::dev::DevVault;
use reqwest::StatusCode;

use crate::quickstart_app::{QuickstartApp, REDIRECT_URI, client, location, query_parameter};

fn auto_sign_in() -> alter::dev::DevVaultBuilder {
    DevVault::builder().auto_approve(true).sign_in_as("alice")
}

#[tokio::test]
async fn authorize_redirects_with_code_at_once() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;

    let response = client()
        .get(app.authorize_url(&client_id, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let target = location(&response).expect("a Location header");
    assert!(target.starts_with(&format!("{REDIRECT_URI}?")), "{target}");
    let code = query_parameter(&target, "code").expect("a code");
    assert_eq!(code.len(), 43);
    assert_eq!(
        query_parameter(&target, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_parameter(&target, "iss"), Some(app.mcp_url()));
    assert_eq!(query_parameter(&target, "error"), None);

    // The code is bound to the PKCE challenge and the resource of the request.
    let tokens = app.exchange_code(&client_id, &code, REDIRECT_URI).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: serde_json::Value = tokens.json().await.unwrap();
    assert!(
        tokens["access_token"]
            .as_str()
            .unwrap()
            .starts_with("alter_at_")
    );
    app.stop().await;
}

#[tokio::test]
async fn authorize_accepts_post_form() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;
    let url = app.authorize_url(&client_id, &[]);
    let (path, query) = url.split_once('?').unwrap();
    let response = client()
        .post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let target = location(&response).unwrap();
    assert!(query_parameter(&target, "code").is_some(), "{target}");

    let json = client()
        .post(path)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(location(&json).is_none());
    app.stop().await;
}

/// Asserts an error redirect to the client with `error` and the echoed state and issuer.
async fn assert_error_redirect(app: &QuickstartApp, url: String, error: &str) {
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND, "{url}");
    let target = location(&response).expect("a Location header");
    assert!(target.starts_with(&format!("{REDIRECT_URI}?")), "{target}");
    assert_eq!(
        query_parameter(&target, "error").as_deref(),
        Some(error),
        "{target}"
    );
    assert_eq!(
        query_parameter(&target, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_parameter(&target, "iss"), Some(app.mcp_url()));
    assert_eq!(query_parameter(&target, "code"), None, "{target}");
}

#[tokio::test]
async fn plain_pkce_rejected() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;
    let plain = app.authorize_url(&client_id, &[("code_challenge_method", Some("plain"))]);
    assert_error_redirect(&app, plain, "invalid_request").await;
    let missing_method = app.authorize_url(&client_id, &[("code_challenge_method", None)]);
    assert_error_redirect(&app, missing_method, "invalid_request").await;
    let missing_challenge = app.authorize_url(&client_id, &[("code_challenge", None)]);
    assert_error_redirect(&app, missing_challenge, "invalid_request").await;
    let short_challenge = app.authorize_url(&client_id, &[("code_challenge", Some("abc"))]);
    assert_error_redirect(&app, short_challenge, "invalid_request").await;
    app.stop().await;
}

#[tokio::test]
async fn request_errors_return_to_client() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;
    let token = app.authorize_url(&client_id, &[("response_type", Some("token"))]);
    assert_error_redirect(&app, token, "unsupported_response_type").await;
    let scope = app.authorize_url(&client_id, &[("scope", Some("mcp admin"))]);
    assert_error_redirect(&app, scope, "invalid_scope").await;
    let foreign = app.authorize_url(
        &client_id,
        &[("resource", Some("https://other.example/mcp"))],
    );
    assert_error_redirect(&app, foreign, "invalid_target").await;
    app.stop().await;
}

#[tokio::test]
async fn unregistered_redirect_gets_error_page() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;
    let cases = [
        app.authorize_url(
            &client_id,
            &[("redirect_uri", Some("https://evil.example/callback"))],
        ),
        app.authorize_url(
            &client_id,
            &[("redirect_uri", Some("http://127.0.0.1:3999/other"))],
        ),
        app.authorize_url(&client_id, &[("redirect_uri", None)]),
        app.authorize_url("alter_client_unknown", &[]),
        app.authorize_url(&client_id, &[("client_id", None)]),
    ];
    for url in cases {
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(location(&response).is_none(), "{url}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{url}"
        );
        assert!(response.headers().contains_key("content-security-policy"));
        let html = response.text().await.unwrap();
        assert!(!html.contains("evil.example"), "{html}");
    }

    // Any port is accepted for a loopback redirect URI, because native clients pick one.
    let other_port = app.authorize_url(
        &client_id,
        &[("redirect_uri", Some("http://127.0.0.1:41234/callback"))],
    );
    let response = client().get(&other_port).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let target = location(&response).unwrap();
    assert!(
        target.starts_with("http://127.0.0.1:41234/callback?code="),
        "{target}"
    );
    app.stop().await;
}

#[tokio::test]
async fn loopback_port_out_of_range_rejected() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;
    // A loopback URI matches on any port a browser can reach. A URI with another port does not
    // parse, so it would receive neither the code nor the error.
    for port in ["0", "65536", "99999"] {
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let url = app.authorize_url(&client_id, &[("redirect_uri", Some(&redirect_uri))]);
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
        assert!(location(&response).is_none(), "{redirect_uri}");
    }
    app.stop().await;
}

#[tokio::test]
async fn oversized_parameters_rejected_unechoed() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let client_id = app.register().await;
    let huge_state = format!("s{}", "x".repeat(8 * 1024));
    let response = client()
        .get(app.authorize_url(&client_id, &[("state", Some(&huge_state))]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(location(&response).is_none());
    let html = response.text().await.unwrap();
    assert!(!html.contains("xxxxxxxx"), "the state is echoed");

    let duplicate = format!("{}&state=again", app.authorize_url(&client_id, &[]));
    let response = client().get(&duplicate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(location(&response).is_none());
    app.stop().await;
}

#[tokio::test]
async fn cursor_private_scheme_completes() {
    let app = QuickstartApp::start(auto_sign_in()).await;
    let cursor_callback = "cursor://anysphere.cursor-mcp/oauth/callback";
    // The redirect URIs that Cursor sends in one registration.
    let registration = serde_json::json!({
        "client_name": "Cursor",
        "redirect_uris": [
            cursor_callback,
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback",
        ],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let response = client()
        .post(app.url("/register"))
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: serde_json::Value = response.json().await.unwrap();
    assert_eq!(registered["redirect_uris"], registration["redirect_uris"]);
    let client_id = registered["client_id"].as_str().unwrap();

    let response = client()
        .get(app.authorize_url(client_id, &[("redirect_uri", Some(cursor_callback))]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let target = location(&response).expect("a Location header");
    assert!(
        target.starts_with(&format!("{cursor_callback}?code=")),
        "{target}"
    );
    assert_eq!(
        query_parameter(&target, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_parameter(&target, "iss"), Some(app.mcp_url()));

    // The code is redeemed with the same private-use redirect URI.
    let code = query_parameter(&target, "code").unwrap();
    let tokens = app.exchange_code(client_id, &code, cursor_callback).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    app.stop().await;
}
