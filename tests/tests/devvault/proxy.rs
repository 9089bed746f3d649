//! Proxy mode through the SDK's vault client: DevVault calls the demo provider and records
//! the audit row itself, and holds calls for approvals that a test grants, denies or lets
//! expire.

use std::time::Duration;

use alter::dev::DevVault;
use alter::error::ApprovalErrorKind;
use alter::vault::{ApprovalStatus, ProxyOutcome};
use alter::{Error, Method, Vault};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::follow;

fn vault(dev: &DevVault) -> Vault {
    Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .caller("proxy-test")
        .build()
        .unwrap()
}

/// Starts a DevVault whose pages approve without a click, so the connect flow runs headless.
async fn start(require_approval: bool) -> DevVault {
    DevVault::builder()
        .auto_approve(true)
        .require_approval(require_approval)
        .start()
        .await
        .unwrap()
}

/// Connects `user` to the demo provider, with read and write scopes, through DevVault's
/// auto-approving pages, and returns a handle acting for them.
async fn connect_demo(dev: &DevVault, vault: &Vault, user: &str) -> Vault {
    let user = vault.with_user_token(dev.user_token(user));
    let session = user
        .create_connect_session()
        .required_scopes("demo", ["messages.write"])
        .send()
        .await
        .unwrap();
    follow(&session.connect_url).await;
    user.wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();
    user
}

/// Submits a proxied `GET /me` and returns the pending approval's id.
async fn submit_for_approval(dev: &DevVault, alice: &Vault) -> String {
    let outcome = alice
        .proxy_request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .reason("read the profile")
        .submit()
        .await
        .unwrap();
    let ProxyOutcome::ApprovalRequired(pending) = outcome else {
        panic!("expected an approval, got {outcome:?}");
    };
    assert!(
        pending
            .approval_url
            .starts_with(&format!("{}/approvals/", dev.base_url())),
        "{}",
        pending.approval_url
    );
    assert_eq!(pending.gates.len(), 1);
    assert_eq!(pending.expires_in, Duration::from_secs(600));
    pending.approval_id
}

#[tokio::test]
async fn proxy_calls_provider_and_audits() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;

    let response = alice
        .proxy_request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .reason("profile")
        .context("tool", "whoami")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().unwrap();
    assert_eq!(me["user"], "alice");
    assert!(!response.body_truncated());
    assert!(response.duration().is_some());
    assert_eq!(response.credential_hint(), None);
    assert_eq!(response.approval_id(), None);

    let posted = alice
        .proxy_request(
            Method::POST,
            format!("{}/{{collection}}", dev.demo_api_url()),
        )
        .path_param("collection", "messages")
        .provider("demo")
        .json(&json!({"text": "hi from proxy"}))
        .header("X-Trace", "t-1")
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{posted:?}");

    vault.flush().await;
    let log = dev.audit_log();
    assert_eq!(
        log.len(),
        2,
        "DevVault writes one row per proxied call: {log:#?}"
    );
    assert_eq!(log[0].row["source"], "proxy");
    assert_eq!(log[0].user, "alice");
    assert_eq!(log[0].response_status, 200);
    assert_eq!(log[0].reason.as_deref(), Some("profile"));
    assert_eq!(log[0].caller.as_deref(), Some("proxy-test"));
    assert_eq!(log[0].context.as_ref().unwrap()["tool"], "whoami");
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].url, format!("{}/messages", dev.demo_api_url()));
    assert_eq!(log[1].row["request_body"]["text"], "hi from proxy");
}

#[tokio::test]
async fn proxy_rejects_bad_input_locally() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let alice = vault.with_user_token(dev.user_token("alice"));
    let url = format!("{}/me", dev.demo_api_url());

    let cases = [
        alice
            .proxy_request(Method::GET, &url)
            .provider("demo")
            .header("Authorization", "Bearer stolen"),
        alice
            .proxy_request(Method::GET, &url)
            .provider("demo")
            .header("bad header", "x"),
        alice
            .proxy_request(Method::GET, &url)
            .provider("demo")
            .header("Accept", "a")
            .header("accept", "b"),
        alice.proxy_request(Method::GET, &url),
        alice
            .proxy_request(Method::GET, &url)
            .provider("demo")
            .grant_id("x"),
        alice
            .proxy_request(Method::GET, &url)
            .grant_id("x")
            .label("work"),
        alice
            .proxy_request(Method::GET, format!("{url}/{{missing}}"))
            .provider("demo"),
    ];
    for request in cases {
        let description = format!("{request:?}");
        let error = request.send().await.unwrap_err();
        assert!(
            matches!(error, Error::InvalidRequest(_)),
            "{description}: {error:?}"
        );
    }
    let debug = format!(
        "{:?}",
        alice
            .proxy_request(Method::GET, &url)
            .header("X-Secret", "value-123")
    );
    assert!(!debug.contains("value-123"), "{debug}");
    assert!(dev.audit_log().is_empty(), "nothing reached DevVault");
}

#[tokio::test]
async fn proxy_maps_backend_errors() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let alice = vault.with_user_token(dev.user_token("alice"));

    let missing = alice
        .proxy_request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::GrantNotFound(_)), "{missing:?}");
    assert_eq!(missing.provider_id(), Some("demo"));

    let alice = connect_demo(&dev, &vault, "alice").await;
    let blocked = alice
        .proxy_request(Method::GET, "http://example.com/me")
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(blocked, Error::BlockedDestination(_)),
        "{blocked:?}"
    );
    let unreachable = alice
        .proxy_request(Method::GET, "http://127.0.0.1:1/me")
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert_eq!(unreachable.status(), Some(502), "{unreachable:?}");
}

#[tokio::test]
async fn granted_approval_returns_result() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    let approval_id = submit_for_approval(&dev, &alice).await;

    let listed = dev.approvals();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, "pending");
    assert_eq!(listed[0].user, "alice");
    assert_eq!(listed[0].reason.as_deref(), Some("read the profile"));
    let state = vault.approval_status(&approval_id).await.unwrap();
    assert_eq!(state.status, ApprovalStatus::Pending);
    assert!(!state.has_result);

    // The wait is in flight, long-polling, when the approval is granted.
    let waiter = {
        let vault = vault.clone();
        let approval_id = approval_id.clone();
        tokio::spawn(async move {
            vault
                .wait_for_approval(approval_id)
                .timeout(Duration::from_secs(60))
                .await
        })
    };
    dev.approve(Uuid::parse_str(&approval_id).unwrap())
        .await
        .unwrap();
    let response = waiter.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().unwrap()["user"], "alice");
    assert_eq!(response.approval_id(), Some(approval_id.as_str()));

    let state = vault.approval_status(&approval_id).await.unwrap();
    assert_eq!(state.status, ApprovalStatus::Executed);
    assert!(state.has_result);
    assert!(state.decided_at.is_some());
    let again = vault.approval_result(&approval_id).await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    let second = dev
        .approve(Uuid::parse_str(&approval_id).unwrap())
        .await
        .unwrap_err();
    assert!(second.to_string().contains("already executed"), "{second}");
    assert_eq!(dev.audit_log().len(), 1);
}

#[tokio::test]
async fn send_waits_for_approval() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;

    let call = {
        let alice = alice.clone();
        let url = format!("{}/me", dev.demo_api_url());
        tokio::spawn(async move {
            alice
                .proxy_request(Method::GET, url)
                .provider("demo")
                .approval_timeout(Duration::from_secs(60))
                .send()
                .await
        })
    };
    let mut pending = Vec::new();
    for _ in 0..500 {
        pending = dev.approvals();
        if !pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pending.len(), 1, "the call never reached DevVault");
    dev.approve(pending[0].approval_id).await.unwrap();
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn denied_approval_is_typed_error() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    let approval_id = submit_for_approval(&dev, &alice).await;

    dev.deny(
        Uuid::parse_str(&approval_id).unwrap(),
        "not during the freeze",
    )
    .unwrap();
    let error = vault
        .wait_for_approval(&approval_id)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap_err();
    let Error::Approval(approval) = &error else {
        panic!("expected an approval error, got {error:?}");
    };
    assert_eq!(approval.kind, ApprovalErrorKind::Denied);
    assert_eq!(approval.message, "not during the freeze");
    assert_eq!(approval.approval_id.as_deref(), Some(approval_id.as_str()));

    let result = vault.approval_result(&approval_id).await.unwrap_err();
    assert!(
        matches!(&result, Error::Approval(a) if a.kind == ApprovalErrorKind::Denied),
        "{result:?}"
    );
    assert_eq!(result.status(), Some(403));
    assert!(dev.audit_log().is_empty(), "a denied call is never made");
}

#[tokio::test]
async fn expired_approval_is_typed_error() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    let approval_id = submit_for_approval(&dev, &alice).await;

    dev.expire_approval(Uuid::parse_str(&approval_id).unwrap())
        .unwrap();
    let error = vault
        .wait_for_approval(&approval_id)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Approval(a) if a.kind == ApprovalErrorKind::Expired),
        "{error:?}"
    );
    let result = vault.approval_result(&approval_id).await.unwrap_err();
    assert!(
        matches!(&result, Error::Approval(a) if a.kind == ApprovalErrorKind::Expired),
        "{result:?}"
    );
}

#[tokio::test]
async fn approval_lifetime_expires_approvals() {
    let dev = DevVault::builder()
        .auto_approve(true)
        .approval_lifetime(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    dev.set_require_approval(true);

    let error = alice
        .proxy_request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Approval(a) if a.kind == ApprovalErrorKind::Expired),
        "{error:?}"
    );
    assert_eq!(dev.approvals()[0].status, "expired");
}

#[tokio::test]
async fn undecided_approval_times_out() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    let approval_id = submit_for_approval(&dev, &alice).await;

    let error = vault
        .wait_for_approval(&approval_id)
        .timeout(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Approval(a) if a.kind == ApprovalErrorKind::TimedOut),
        "{error:?}"
    );
    assert_eq!(dev.approvals()[0].status, "pending");
}

#[tokio::test]
async fn failed_execution_is_typed_error() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    let outcome = alice
        .proxy_request(Method::GET, "http://127.0.0.1:1/unreachable")
        .provider("demo")
        .submit()
        .await
        .unwrap();
    let ProxyOutcome::ApprovalRequired(pending) = outcome else {
        panic!("expected an approval, got {outcome:?}");
    };
    dev.approve(Uuid::parse_str(&pending.approval_id).unwrap())
        .await
        .unwrap();
    let error = vault
        .wait_for_approval(&pending.approval_id)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Approval(a) if a.kind == ApprovalErrorKind::ExecutionFailed),
        "{error:?}"
    );
}

#[tokio::test]
async fn approval_page_grants_under_auto_approve() {
    let dev = DevVault::builder()
        .auto_approve(true)
        .require_approval(true)
        .start()
        .await
        .unwrap();
    let vault = vault(&dev);
    let alice = connect_demo(&dev, &vault, "alice").await;
    let outcome = alice
        .proxy_request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .submit()
        .await
        .unwrap();
    let ProxyOutcome::ApprovalRequired(pending) = outcome else {
        panic!("expected an approval, got {outcome:?}");
    };
    let page = follow(&pending.approval_url).await;
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let response = vault
        .wait_for_approval(&pending.approval_id)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().unwrap()["user"], "alice");
}

#[tokio::test]
async fn approval_page_form_denies() {
    // Without auto-approve, so the approval page shows its form; the user connects through the
    // demo provider's consent form instead.
    let dev = DevVault::builder()
        .require_approval(true)
        .start()
        .await
        .unwrap();
    let vault = vault(&dev);
    let alice = vault.with_user_token(dev.user_token("alice"));
    let session = alice.create_connect_session().send().await.unwrap();
    let consent = reqwest::get(&session.connect_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"name="consent" value=""#;
    let start = consent.find(marker).unwrap() + marker.len();
    let consent_id = &consent[start..start + consent[start..].find('"').unwrap()];
    let approved = reqwest::Client::new()
        .post(format!("{}/demo/oauth/authorize", dev.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "consent={consent_id}&decision=approve&account=alice"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), reqwest::StatusCode::OK);
    let approval_id = submit_for_approval(&dev, &alice).await;
    let page_url = format!("{}/approvals/{approval_id}", dev.base_url());

    let html = reqwest::get(&page_url).await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"value="deny""#), "{html}");
    assert!(html.contains("read the profile"), "{html}");
    let denied = reqwest::Client::new()
        .post(&page_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=deny&reason=looks+odd")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), reqwest::StatusCode::OK);
    let error = vault
        .wait_for_approval(&approval_id)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("looks odd"), "{error}");
    let decided = reqwest::get(&page_url).await.unwrap();
    assert_eq!(decided.status(), reqwest::StatusCode::CONFLICT);
}

#[tokio::test]
async fn approval_ids_are_checked() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let invalid = vault.wait_for_approval("../sdk/token").await.unwrap_err();
    assert!(matches!(invalid, Error::InvalidRequest(_)), "{invalid:?}");
    let unknown = vault
        .approval_status(&Uuid::new_v4().to_string())
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::Backend(_)), "{unknown:?}");
    assert_eq!(unknown.status(), Some(404));
    assert_eq!(unknown.code(), Some("approval_not_found"));
    let missing = dev.approve(Uuid::new_v4()).await.unwrap_err();
    assert!(
        missing.to_string().contains("no DevVault approval"),
        "{missing}"
    );
}

#[tokio::test]
async fn proxy_endpoints_reject_bad_bodies() {
    use crate::support::{Client, SignedRequest, expect_error};
    use reqwest::StatusCode;

    let dev = start(true).await;
    let client = Client::new(&dev);
    let user_token = dev.user_token("alice");
    let url = format!("{}/me", dev.demo_api_url());
    let cases = [
        (
            json!({"method": "get", "url": url, "provider_id": "demo"}),
            "upper-case",
        ),
        (json!({"url": url, "provider_id": "demo"}), "method"),
        (
            json!({"method": "GET", "url": url, "provider_id": "demo", "headers": {"X-A": 1}}),
            "headers.X-A",
        ),
        (
            json!({"method": "GET", "url": url, "provider_id": "demo", "headers": {"Cookie": "c"}}),
            "proxy mode",
        ),
        (
            json!({"method": "GET", "url": url, "provider_id": "demo", "query_params": []}),
            "query_params",
        ),
    ];
    for (body, expected) in cases {
        let mut body = body;
        body["user_token"] = json!(user_token);
        let response = client.post("/sdk/proxy", &body).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            error["message"].as_str().unwrap().contains(expected),
            "{body}: {error}"
        );
    }
    let blocked = client
        .post(
            "/sdk/proxy",
            &json!({"method": "GET", "url": "ftp://127.0.0.1/x", "provider_id": "demo", "user_token": user_token}),
        )
        .await;
    expect_error(
        blocked,
        StatusCode::UNPROCESSABLE_ENTITY,
        "blocked_destination",
    )
    .await;

    let id = Uuid::new_v4();
    for wait in ["26", "-1", "x", "1.5"] {
        let response = client
            .send(SignedRequest::new(
                reqwest::Method::GET,
                &format!("/sdk/approvals/{id}?wait={wait}"),
                Vec::new(),
            ))
            .await;
        expect_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        )
        .await;
    }
    let response = client
        .send(SignedRequest::new(
            reqwest::Method::GET,
            "/sdk/approvals/not-a-uuid/result",
            Vec::new(),
        ))
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "approval_not_found").await;
}

#[tokio::test]
async fn restricted_grant_works_only_through_proxy() {
    use alter::vault::GrantRestrictions;

    let dev = start(false).await;
    let vault = vault(&dev);
    let alice = vault.with_user_token(dev.user_token("alice"));
    let me = format!("{}/me", dev.demo_api_url());
    let session = alice
        .create_connect_session()
        .required_scopes("demo", ["messages.write"])
        .label("read-only")
        .restrictions(
            GrantRestrictions::new()
                .allowed_methods(["get"])
                .allowed_endpoints([me.as_str()]),
        )
        .send()
        .await
        .unwrap();
    follow(&session.connect_url).await;
    alice
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();

    let retrieved = alice
        .request(Method::GET, &me)
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(retrieved, Error::RestrictedGrantRequiresProxy(_)),
        "{retrieved:?}"
    );
    let proxied = alice
        .proxy_request(Method::GET, &me)
        .provider("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.json::<Value>().unwrap()["user"], "alice");

    let wrong_method = alice
        .proxy_request(Method::POST, format!("{}/messages", dev.demo_api_url()))
        .provider("demo")
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_method, Error::PolicyViolation(_)),
        "{wrong_method:?}"
    );
    let wrong_endpoint = alice
        .proxy_request(Method::GET, format!("{}/messages", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        wrong_endpoint.code(),
        Some("policy_denied"),
        "{wrong_endpoint:?}"
    );
    assert_eq!(
        dev.audit_log().len(),
        1,
        "only the allowed call reached the provider"
    );
}
