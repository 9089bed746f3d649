//! The main path: connect a provider, retrieve its token, call the provider, write audit rows.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{Client, demo_call, expect_error, is_canonical_uuid, json_of, start};

#[tokio::test]
async fn connect_then_token_then_demo_me() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");

    let grant = client.connect(&alice, json!({})).await;
    assert_eq!(grant["provider_id"], "demo");
    assert_eq!(grant["account_identifier"], "alice");
    assert_eq!(grant["operation"], "creation");
    assert_eq!(grant["scopes"], json!(["messages.read"]));
    let grant_id = grant["grant_id"].as_str().unwrap();
    assert!(is_canonical_uuid(grant_id), "{grant_id}");

    let token = client.demo_token(&alice).await;
    assert_eq!(token["grant_id"], grant_id);
    assert_eq!(token["provider_id"], "demo");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["injection_header"], "Authorization");
    assert_eq!(token["injection_format"], "Bearer {token}");
    assert_eq!(token["scopes"], json!(["messages.read"]));
    let expires_in = token["expires_in"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    assert!(is_canonical_uuid(
        token["token_generation"].as_str().unwrap()
    ));
    assert!(!token["access_token"].as_str().unwrap().is_empty());

    let me = demo_call(
        Method::GET,
        &format!("{}/me", dev.demo_api_url()),
        &token,
        None,
    )
    .await;
    let (status, me) = json_of(me).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"], "alice");
    assert_eq!(me["scopes"], json!(["messages.read"]));

    let stored = dev.grant_for("alice", "demo").unwrap();
    assert_eq!(stored.id.to_string(), grant_id);
    assert_eq!(stored.account_identifier.as_deref(), Some("alice"));
    assert_eq!(dev.grants().len(), 1);
    dev.shutdown().await;
}

#[tokio::test]
async fn actor_id_is_stable_per_key() {
    let dev = start(true).await;
    let app = Client::new(&dev);
    let agent = Client::with_key(
        dev.base_url(),
        dev.mint_api_key(alter::protocol::api_key::KeyType::Agent)
            .expose_secret(),
    );
    let body = json!({"session_token": "none"});

    let first = app.post("/sdk/oauth/connect/session/poll", &body).await;
    let second = app.post("/sdk/oauth/connect/session/poll", &body).await;
    let other = agent.post("/sdk/oauth/connect/session/poll", &body).await;
    let actor = |response: &reqwest::Response| {
        response.headers()["x-alter-actor-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let first_actor = actor(&first);
    assert!(is_canonical_uuid(&first_actor), "{first_actor}");
    assert_eq!(first_actor, actor(&second));
    assert_ne!(first_actor, actor(&other));
    expect_error(first, StatusCode::NOT_FOUND, "connect_session_not_found").await;
}

#[tokio::test]
async fn user_without_grant_gets_not_found() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    client.connect(&dev.user_token("alice"), json!({})).await;

    let response = client
        .post(
            "/sdk/token",
            &json!({
                "provider_id": "demo",
                "reason": null,
                "request": {"method": "GET", "url": "https://example.com/"},
                "user_token": dev.user_token("bob"),
            }),
        )
        .await;
    let body = expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;
    assert_eq!(body["provider_id"], "demo");
    assert_eq!(body["app_user_id"], "bob");
}

#[tokio::test]
async fn unknown_provider_gets_not_found() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let response = client
        .post(
            "/sdk/token",
            &json!({"provider_id": "github", "reason": null, "user_token": dev.user_token("alice")}),
        )
        .await;
    let body = expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;
    assert_eq!(body["provider_id"], "github");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("configured: demo")
    );
}

#[tokio::test]
async fn grant_mode_checks_owner() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    let grant = client.connect(&alice, json!({})).await;
    let grant_id = grant["grant_id"].as_str().unwrap();
    let request = json!({"method": "GET", "url": "https://example.com/"});

    let (status, owned) = client
        .token(
            &json!({"grant_id": grant_id, "reason": null, "request": request, "user_token": alice}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{owned}");
    assert_eq!(owned["grant_id"], grant_id);

    let (status, app_level) = client
        .token(&json!({"grant_id": grant_id, "reason": null, "request": request}))
        .await;
    assert_eq!(status, StatusCode::OK, "{app_level}");

    let response = client
        .post(
            "/sdk/token",
            &json!({"grant_id": grant_id, "reason": null, "request": request, "user_token": dev.user_token("bob")}),
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;

    let response = client
        .post(
            "/sdk/token",
            &json!({"grant_id": "not-a-uuid", "reason": null, "request": request}),
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;
}

#[tokio::test]
async fn labels_make_grants_ambiguous() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    let work = client
        .connect(&alice, json!({"requested_grant": {"label": "work"}}))
        .await;
    let personal = client
        .connect(&alice, json!({"requested_grant": {"label": "personal"}}))
        .await;
    assert_ne!(work["grant_id"], personal["grant_id"]);

    let response = client
        .post(
            "/sdk/token",
            &json!({"provider_id": "demo", "reason": null, "user_token": alice}),
        )
        .await;
    let body = expect_error(response, StatusCode::CONFLICT, "ambiguous_grant").await;
    assert_eq!(body["provider_id"], "demo");
    assert_eq!(body["account_was_provided"], false);
    assert_eq!(body["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(body["candidates"][0]["label"], "work");
    assert_eq!(body["candidates"][1]["label"], "personal");

    let (status, token) = client
        .token(&json!({"provider_id": "demo", "reason": null, "user_token": alice, "label": "personal"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["grant_id"], personal["grant_id"]);

    let response = client
        .post(
            "/sdk/token",
            &json!({"provider_id": "demo", "reason": null, "user_token": alice, "account": "ALICE"}),
        )
        .await;
    let body = expect_error(response, StatusCode::CONFLICT, "ambiguous_grant").await;
    assert_eq!(body["account_was_provided"], true);

    let response = client
        .post(
            "/sdk/token",
            &json!({"provider_id": "demo", "reason": null, "user_token": alice, "label": "school"}),
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;
}

#[tokio::test]
async fn reconnect_reauthorizes_same_grant() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    let first = client.connect(&alice, json!({})).await;
    let before = client.demo_token(&alice).await;

    let second = client.connect(&alice, json!({})).await;
    assert_eq!(second["grant_id"], first["grant_id"]);
    assert_eq!(second["operation"], "reauth");
    let after = client.demo_token(&alice).await;
    assert_ne!(after["token_generation"], before["token_generation"]);
    assert_ne!(after["access_token"], before["access_token"]);
    assert_eq!(dev.grants().len(), 1);
}

#[tokio::test]
async fn expired_demo_token_is_refreshed() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    client.connect(&alice, json!({})).await;
    let old = client.demo_token(&alice).await;
    let me_url = format!("{}/me", dev.demo_api_url());

    let grant = dev.grant_for("alice", "demo").unwrap();
    dev.expire_provider_token(grant.id).unwrap();
    let stale = demo_call(Method::GET, &me_url, &old, None).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let challenge = stale.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    let new = client.demo_token(&alice).await;
    assert_eq!(new["grant_id"], old["grant_id"]);
    assert_ne!(new["access_token"], old["access_token"]);
    assert_ne!(new["token_generation"], old["token_generation"]);
    let expires_in = new["expires_in"].as_u64().unwrap();
    assert!(expires_in > 3000, "{expires_in}");
    let (status, me) = json_of(demo_call(Method::GET, &me_url, &new, None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"], "alice");
    assert_ne!(
        dev.grant_for("alice", "demo").unwrap().token_generation,
        grant.token_generation
    );

    let again = client.demo_token(&alice).await;
    assert_eq!(
        again["access_token"], new["access_token"],
        "a fresh token is not refreshed"
    );
}

#[tokio::test]
async fn unknown_grant_cannot_be_expired() {
    let dev = start(true).await;
    let missing = dev.expire_provider_token(uuid_of("6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"));
    let error = missing.unwrap_err().to_string();
    assert!(error.contains("no DevVault grant"), "{error}");
}

fn uuid_of(text: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(text).unwrap()
}

#[tokio::test]
async fn write_scope_is_enforced_by_demo_api() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let messages_url = format!("{}/messages", dev.demo_api_url());

    let reader = dev.user_token("reader");
    client.connect(&reader, json!({})).await;
    let read_only = client.demo_token(&reader).await;
    let denied = demo_call(
        Method::POST,
        &messages_url,
        &read_only,
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let challenge = denied.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="messages.write""#),
        "{challenge}"
    );
    let (_, body) = json_of(denied).await;
    assert_eq!(body["error"], "insufficient_scope");

    let writer = dev.user_token("writer");
    let grant = client
        .connect(
            &writer,
            json!({"required_scopes": {"demo": ["messages.write"]}}),
        )
        .await;
    assert_eq!(grant["scopes"], json!(["messages.read", "messages.write"]));
    let token = client.demo_token(&writer).await;
    let posted = demo_call(
        Method::POST,
        &messages_url,
        &token,
        Some(json!({"text": "hello"})),
    )
    .await;
    let (status, message) = json_of(posted).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["from"], "writer");
    assert_eq!(message["text"], "hello");

    let (status, list) = json_of(demo_call(Method::GET, &messages_url, &token, None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["messages"].as_array().unwrap().len(), 1);
    let (_, other) = json_of(demo_call(Method::GET, &messages_url, &read_only, None).await).await;
    assert_eq!(other["messages"], json!([]), "messages are per account");
}

#[tokio::test]
async fn audit_row_is_stored_with_user() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    client.connect(&alice, json!({})).await;
    let token = client.demo_token(&alice).await;
    let row = json!({
        "grant_id": token["grant_id"],
        "provider_id": "demo",
        "token_generation": token["token_generation"],
        "method": "GET",
        "url": format!("{}/me", dev.demo_api_url()),
        "request_headers": {"User-Agent": "test"},
        "request_body": null,
        "response_status": 200,
        "response_headers": {"content-type": "application/json"},
        "response_body": "{\"user\":\"alice\"}",
        "latency_ms": 3,
        "reason": "show profile",
        "context": {"tool": "profile"},
    });
    let mut request = crate::support::SignedRequest::post_json("/sdk/oauth/audit/api-call", &row);
    request.caller = Some("billing-agent".into());
    request.caller_type = Some("agent".into());
    request.context = Some(r#"{"run_id":"r-1"}"#.into());
    let response = client.send(request).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let log = dev.audit_log();
    assert_eq!(log.len(), 1);
    let record = &log[0];
    assert_eq!(record.user, "alice");
    assert_eq!(
        record.grant_id.to_string(),
        token["grant_id"].as_str().unwrap()
    );
    assert_eq!(record.method, "GET");
    assert_eq!(record.response_status, 200);
    assert_eq!(record.latency_ms, 3);
    assert_eq!(record.reason.as_deref(), Some("show profile"));
    assert_eq!(record.context.as_ref().unwrap()["tool"], "profile");
    assert_eq!(record.caller.as_deref(), Some("billing-agent"));
    assert_eq!(record.caller_type.as_deref(), Some("agent"));
    assert_eq!(record.header_context.as_ref().unwrap()["run_id"], "r-1");
    assert_eq!(record.row["response_body"], "{\"user\":\"alice\"}");
}

#[tokio::test]
async fn audit_row_rejects_bad_rows() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    client.connect(&alice, json!({})).await;
    let token = client.demo_token(&alice).await;
    let valid = json!({
        "grant_id": token["grant_id"], "provider_id": "demo", "token_generation": null,
        "method": "GET", "url": "https://x/", "request_headers": {}, "request_body": null,
        "response_status": 0, "response_headers": null, "response_body": "", "latency_ms": 0,
        "reason": null, "context": null,
    });

    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove("latency_ms");
    let body = expect_error(
        client.post("/sdk/oauth/audit/api-call", &missing).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("latency_ms"),
        "{body}"
    );

    let cases = [
        ("response_status", json!("200")),
        ("response_status", json!(1000)),
        ("latency_ms", json!(-1)),
        ("request_headers", json!([])),
        ("context", json!({"tool": 3})),
        ("provider_id", json!("github")),
    ];
    for (key, value) in cases {
        let mut row = valid.clone();
        row[key] = value;
        let response = client.post("/sdk/oauth/audit/api-call", &row).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }

    let mut unknown = valid.clone();
    unknown["grant_id"] = json!("6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
    let response = client.post("/sdk/oauth/audit/api-call", &unknown).await;
    expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;
    assert!(dev.audit_log().is_empty(), "rejected rows are not stored");

    let response = client.post("/sdk/oauth/audit/api-call", &valid).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(dev.audit_log().len(), 1);
}

#[tokio::test]
async fn user_token_errors_are_jwt_validation_errors() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let valid = dev.user_token("alice");
    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let other_instance = start(true).await.user_token("alice");

    for (case, token) in [
        ("expired", dev.expired_user_token("alice")),
        ("tampered", tampered),
        ("garbage", "not.a.jwt".to_owned()),
        ("other instance", other_instance),
    ] {
        let response = client
            .post(
                "/sdk/token",
                &json!({"provider_id": "demo", "reason": null, "user_token": token}),
            )
            .await;
        let body = json_of(response).await;
        assert_eq!(body.0, StatusCode::UNAUTHORIZED, "{case}: {}", body.1);
        assert_eq!(body.1["error"], "jwt_validation_error", "{case}");
    }

    let response = client
        .post(
            "/sdk/oauth/connect/session",
            &json!({"allowed_providers": null, "return_url": null, "allowed_origin": null,
                    "metadata": null, "user_token": dev.expired_user_token("alice")}),
        )
        .await;
    let body = expect_error(response, StatusCode::UNAUTHORIZED, "jwt_validation_error").await;
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn user_token_endpoint_mints_verifiable_tokens() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let response = reqwest::Client::new()
        .post(format!(
            "{}/dev/users/carol/token?expires_in=120",
            dev.base_url()
        ))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"], "carol");
    assert_eq!(body["expires_in"], 120);
    let token = body["user_token"].as_str().unwrap();
    assert_eq!(dev.users(), ["carol"]);

    let response = client
        .post(
            "/sdk/token",
            &json!({"provider_id": "demo", "reason": null, "user_token": token}),
        )
        .await;
    let body = expect_error(response, StatusCode::NOT_FOUND, "grant_not_found").await;
    assert_eq!(
        body["app_user_id"], "carol",
        "the minted token resolves to carol"
    );
}
