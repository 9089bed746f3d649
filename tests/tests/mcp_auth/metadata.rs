//! Discovery: the metadata documents, the 401 challenge and CORS.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Harness, post_form};

#[tokio::test]
async fn protected_resource_metadata() {
    let harness = Harness::start().await;
    let resource = harness.auth.resource();
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = harness.http.get(harness.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["resource"], resource, "{path}");
        assert_eq!(body["authorization_servers"], json!([resource]), "{path}");
        assert_eq!(body["scopes_supported"], json!(["mcp"]), "{path}");
        assert_eq!(
            body["bearer_methods_supported"],
            json!(["header"]),
            "{path}"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn authorization_server_metadata() {
    let harness = Harness::start().await;
    let issuer = harness.auth.issuer();
    for path in [
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = harness.http.get(harness.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["issuer"], issuer, "{path}");
        assert_eq!(body["authorization_endpoint"], harness.url("/authorize"));
        assert_eq!(body["token_endpoint"], harness.url("/token"));
        assert_eq!(body["registration_endpoint"], harness.url("/register"));
        assert_eq!(body["revocation_endpoint"], harness.url("/revoke"));
        assert_eq!(body["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(body["response_types_supported"], json!(["code"]));
        assert_eq!(
            body["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            body["token_endpoint_auth_methods_supported"],
            json!(["none"])
        );
        assert_eq!(body["scopes_supported"], json!(["mcp"]));
        assert_eq!(body["authorization_response_iss_parameter_supported"], true);
    }
    harness.stop().await;
}

#[tokio::test]
async fn other_well_known_paths_not_found() {
    let harness = Harness::start().await;
    for path in [
        "/mcp/.well-known/oauth-authorization-server",
        "/mcp/.well-known/openid-configuration",
        "/mcp/.well-known/oauth-protected-resource",
    ] {
        let response = harness.http.get(harness.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
    }
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/mcp",
    ] {
        let response = harness.http.get(harness.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn missing_token_gets_challenge() {
    let harness = Harness::start().await;
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    let response = harness.mcp_post(None, None, &initialize).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"mcp\"",
            harness.url("/.well-known/oauth-protected-resource/mcp")
        )
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "missing_bearer_token");
    harness.stop().await;
}

#[tokio::test]
async fn unknown_token_gets_invalid_token() {
    let harness = Harness::start().await;
    let message = json!({"jsonrpc": "2.0", "id": 0, "method": "tools/list"});
    for token in ["alter_at_unknown", "a b"] {
        let response = harness.mcp_post(Some(token), None, &message).await;
        assert_eq!(response.status(), 401, "{token}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(challenge.contains("resource_metadata=\""), "{challenge}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn token_preflight_gets_cors_headers() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .request(Method::OPTIONS, harness.url("/token"))
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    assert_eq!(headers["access-control-allow-headers"], "content-type");
    harness.stop().await;
}

#[tokio::test]
async fn metadata_and_errors_carry_cors_headers() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .get(harness.url("/.well-known/oauth-protected-resource/mcp"))
        .header("origin", "https://inspector.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let response = post_form(
        &harness.http,
        &harness.url("/token"),
        &[("grant_type", "password")],
    )
    .header("origin", "https://inspector.example")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    harness.stop().await;
}

#[tokio::test]
async fn mcp_preflight_is_not_unauthorized() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .request(Method::OPTIONS, harness.auth.resource())
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-session-id",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        headers["access-control-allow-headers"],
        "authorization, content-type, mcp-session-id"
    );

    let plain_options = harness
        .http
        .request(Method::OPTIONS, harness.auth.resource())
        .send()
        .await
        .unwrap();
    assert_ne!(plain_options.status(), 401);
    harness.stop().await;
}

#[tokio::test]
async fn unauthorized_mcp_response_exposes_challenge() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.auth.resource())
        .header("origin", "https://inspector.example")
        .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert!(exposed.contains("mcp-session-id"), "{exposed}");
    harness.stop().await;
}

#[tokio::test]
async fn nested_mcp_path_metadata() {
    let harness = Harness::start_with(crate::support::Settings {
        mcp_path: "/tenant/mcp",
        ..Default::default()
    })
    .await;
    let resource = harness.url("/tenant/mcp");
    assert_eq!(harness.auth.resource(), resource);
    let response = harness
        .http
        .get(harness.url("/.well-known/oauth-protected-resource/tenant/mcp"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resource"], resource);
    let response = harness
        .http
        .get(harness.url("/.well-known/oauth-authorization-server/tenant/mcp"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issuer"], resource);
    let response = harness
        .http
        .get(harness.url("/tenant/mcp/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let message = json!({"jsonrpc": "2.0", "id": 0, "method": "tools/list"});
    let response = harness.mcp_post(None, None, &message).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    let expected = format!(
        "resource_metadata=\"{}\"",
        harness.url("/.well-known/oauth-protected-resource/tenant/mcp")
    );
    assert!(challenge.contains(&expected), "{challenge}");
    harness.stop().await;
}
