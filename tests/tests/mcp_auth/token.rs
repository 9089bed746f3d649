//! The authorization-code grant of the token endpoint, and its error responses.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::support::{Harness, REDIRECT_URI, VERIFIER};

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    (status, body["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn code_exchanged_for_tokens() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let code = harness.issue_code(&client_id, "alice").await;
    let resource = harness.auth.resource();
    let response = harness
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
            ("resource", &resource),
        ])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(
        access.starts_with("alter_at_") && access.len() == 9 + 43,
        "{access}"
    );
    assert!(
        refresh.starts_with("alter_rt_") && refresh.len() == 9 + 43,
        "{refresh}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp");

    let response = harness
        .http
        .get(harness.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(
        me,
        json!({"client_id": client_id, "scopes": ["mcp"], "has_user": true})
    );
    harness.stop().await;
}

#[tokio::test]
async fn replayed_code_revokes_its_tokens() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let code = harness.issue_code(&client_id, "alice").await;
    let tokens = harness.exchange(&client_id, &code).await;
    let access = tokens["access_token"].as_str().unwrap();

    let resource = harness.auth.resource();
    let replay = harness
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
            ("resource", &resource),
        ])
        .await;
    assert_eq!(error_of(replay).await, (400, "invalid_grant".to_owned()));

    let response = harness
        .http
        .get(harness.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let refresh = harness
        .refresh(&client_id, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(error_of(refresh).await, (400, "invalid_grant".to_owned()));
    harness.stop().await;
}

#[tokio::test]
async fn resource_rules() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let resource = harness.auth.resource();
    let with_slash = format!("{resource}/");
    for accepted in [resource.as_str(), with_slash.as_str()] {
        let code = harness.issue_code(&client_id, "alice").await;
        let response = harness
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &client_id),
                ("code_verifier", VERIFIER),
                ("resource", accepted),
            ])
            .await;
        assert_eq!(response.status(), 200, "{accepted}");
    }

    let code = harness.issue_code(&client_id, "alice").await;
    let double_slash = format!("{resource}//");
    for rejected in [
        "http://other.example/mcp",
        "https://other.example/mcp",
        &double_slash,
    ] {
        let response = harness
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &client_id),
                ("code_verifier", VERIFIER),
                ("resource", rejected),
            ])
            .await;
        assert_eq!(
            error_of(response).await,
            (400, "invalid_target".to_owned()),
            "{rejected}"
        );
    }
    // The rejected requests left the code unspent.
    let tokens = harness.exchange(&client_id, &code).await;
    assert!(tokens["access_token"].is_string());
    harness.stop().await;
}

#[tokio::test]
async fn json_body_rejected() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/token"))
        .json(&json!({"grant_type": "authorization_code", "code": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(response).await,
        (400, "invalid_request".to_owned())
    );
    harness.stop().await;
}

#[tokio::test]
async fn missing_parameters_rejected() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let code = harness.issue_code(&client_id, "alice").await;
    let full = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", client_id.as_str()),
        ("code_verifier", VERIFIER),
    ];
    for missing in [
        "grant_type",
        "code",
        "redirect_uri",
        "client_id",
        "code_verifier",
    ] {
        let form: Vec<(&str, &str)> = full
            .iter()
            .copied()
            .filter(|(name, _)| *name != missing)
            .collect();
        let response = harness.token_request(&form).await;
        assert_eq!(
            error_of(response).await,
            (400, "invalid_request".to_owned()),
            "{missing}"
        );
    }
    let short_verifier = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", client_id.as_str()),
        ("code_verifier", "short"),
    ];
    let response = harness.token_request(&short_verifier).await;
    assert_eq!(
        error_of(response).await,
        (400, "invalid_request".to_owned())
    );

    // None of those requests spent the code.
    let tokens = harness.exchange(&client_id, &code).await;
    assert!(tokens["access_token"].is_string());
    harness.stop().await;
}

#[tokio::test]
async fn wrong_binding_rejected() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let other_client = harness.register().await;
    let other_verifier = "x".repeat(43);
    let cases = [
        ("client_id", other_client.as_str()),
        ("redirect_uri", "http://127.0.0.1:33418/other"),
        ("code_verifier", other_verifier.as_str()),
    ];
    for (name, value) in cases {
        let code = harness.issue_code(&client_id, "alice").await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id.as_str()),
            ("code_verifier", VERIFIER),
        ];
        for entry in &mut form {
            if entry.0 == name {
                entry.1 = value;
            }
        }
        let response = harness.token_request(&form).await;
        assert_eq!(
            error_of(response).await,
            (400, "invalid_grant".to_owned()),
            "{name}"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn unknown_code_and_grant_type() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let response = harness
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", "unknown"),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(error_of(response).await, (400, "invalid_grant".to_owned()));
    for grant_type in ["password", "client_credentials", "implicit"] {
        let response = harness.token_request(&[("grant_type", grant_type)]).await;
        assert_eq!(
            error_of(response).await,
            (400, "unsupported_grant_type".to_owned()),
            "{grant_type}"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn hostile_token_requests_get_4xx() {
    let harness = Harness::start().await;
    let long = "a".repeat(8 * 1024);
    let huge = "a".repeat(1024 * 1024);
    let cases: [&[(&str, &str)]; 6] = [
        &[("grant_type", &long)],
        &[
            ("grant_type", "authorization_code"),
            ("code", &long),
            ("redirect_uri", &long),
            ("client_id", &long),
            ("code_verifier", &long),
        ],
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &long),
            ("scope", &long),
        ],
        &[("grant_type", "refresh_token"), ("refresh_token", &huge)],
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
        ],
        &[("grant_type", "refresh_token"), (&long, "1"), (&long, "2")],
    ];
    for form in cases {
        let response = harness.token_request(form).await;
        let status = response.status();
        assert!(status.is_client_error(), "{status}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.len() < 1024,
            "the description repeats the value"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn store_unavailable_gets_503() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let code = harness.issue_code(&client_id, "alice").await;
    harness.store.down.store(true, Ordering::SeqCst);
    let response = harness
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        error_of(response).await,
        (503, "temporarily_unavailable".to_owned())
    );
    let response = harness
        .http
        .post(harness.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT_URI]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    harness.store.down.store(false, Ordering::SeqCst);
    let tokens = harness.exchange(&client_id, &code).await;
    assert!(tokens["access_token"].is_string());
    harness.stop().await;
}

#[tokio::test]
async fn full_store_gets_503() {
    let harness = Harness::start_with(crate::support::Settings {
        limits: alter::mcp::auth::StoreLimits {
            access_tokens: 1,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let (client_id, _) = harness.sign_in("alice").await;
    let code = harness.issue_code(&client_id, "bob").await;
    let response = harness
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        error_of(response).await,
        (503, "temporarily_unavailable".to_owned())
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_exchanges_issue_one_pair() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let code = harness.issue_code(&client_id, "alice").await;

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let http = harness.http.clone();
        let url = harness.url("/token");
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT_URI.to_owned()),
            ("client_id", client_id.clone()),
            ("code_verifier", VERIFIER.to_owned()),
        ];
        requests.spawn(async move {
            let response = crate::support::post_form(&http, &url, &form)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let mut issued = Vec::new();
    for (status, body) in requests.join_all().await {
        if status == 200 {
            issued.push(body);
        } else {
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    assert_eq!(issued.len(), 1, "one request redeems the code");

    // The other requests replayed the code, which revokes what it was exchanged for, even
    // when a replay revoked the family before the winner stored its tokens.
    let access_token = issued[0]["access_token"].as_str().unwrap();
    let response = harness
        .http
        .get(harness.url("/api/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    harness.stop().await;
}
