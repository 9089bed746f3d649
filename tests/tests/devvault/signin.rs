//! Sign-in sessions through the SDK's vault client and DevVault's hosted sign-in page: sessions
//! completed at creation under auto-approve, the form, cancellation, expiry, long polls and
//! token verification.

use std::time::Duration;

use alter::error::SignInErrorKind;
use alter::vault::AuthStatus;
use alter::{Error, Method, Vault};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Client, expect_error, follow, json_of, start};

fn vault(dev: &alter::dev::DevVault) -> Vault {
    Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .expect("the vault accepts DevVault's key and URL")
}

fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn auto_approved_sign_in_completes_at_creation() {
    let dev = alter::dev::DevVault::builder()
        .auto_approve(true)
        .sign_in_as("alice")
        .start()
        .await
        .unwrap();
    let vault = vault(&dev);

    let session = vault.create_auth_session().await.unwrap();
    assert!(
        session
            .auth_url
            .starts_with(&format!("{}/signin/", dev.base_url())),
        "{}",
        session.auth_url
    );
    assert_eq!(session.expires_in, Duration::from_secs(600));
    let status = vault
        .auth_session_status(&session.session_token)
        .await
        .unwrap();
    let AuthStatus::Completed(user) = status else {
        panic!("the auto-approved session is not completed: {status:?}");
    };
    assert_eq!(user.user_info["sub"], "alice");
    assert_eq!(
        vault
            .verify_user_token(user.user_token.expose_secret())
            .await
            .unwrap(),
        "alice"
    );

    // The page has nothing left to do.
    let page = follow(&session.auth_url).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("already finished"));

    // The signed-in user's token works for vault calls like any other user token.
    let alice = vault.with_user_token(user.user_token.clone());
    let missing = alice
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::GrantNotFound(_)), "{missing:?}");
    assert_eq!(missing.app_user_id(), Some("alice"));
}

#[tokio::test]
async fn auto_approved_sign_in_defaults_to_demo_user() {
    let dev = start(true).await;
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();
    let user = vault
        .poll_auth_session(&session.session_token)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(user.user_info["sub"], alter::dev::DEFAULT_SIGN_IN_USER);
    assert_eq!(user.user_info["sub"], "demo-user");
}

#[tokio::test]
async fn sign_in_approval_set_apart() {
    // Consent pages approve without a click, but the user picks a name to sign in.
    let dev = alter::dev::DevVault::builder()
        .auto_approve(true)
        .auto_approve_sign_in(false)
        .start()
        .await
        .unwrap();
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();
    assert!(matches!(
        vault
            .auth_session_status(&session.session_token)
            .await
            .unwrap(),
        AuthStatus::Pending
    ));
    let form = follow(&format!("{}?login_hint=alice", session.auth_url)).await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    assert!(html.contains(r#"name="user" value="alice""#), "{html}");
    assert!(matches!(
        vault
            .auth_session_status(&session.session_token)
            .await
            .unwrap(),
        AuthStatus::Pending
    ));

    // And the other way round: only sign-in is approved at once.
    let sign_in_only = alter::dev::DevVault::builder()
        .auto_approve_sign_in(true)
        .sign_in_as("bob")
        .start()
        .await
        .unwrap();
    let vault = self::vault(&sign_in_only);
    let session = vault.create_auth_session().await.unwrap();
    let status = vault
        .auth_session_status(&session.session_token)
        .await
        .unwrap();
    let AuthStatus::Completed(user) = status else {
        panic!("the sign-in is not approved at once: {status:?}");
    };
    assert_eq!(user.user_info["sub"], "bob");
}

#[tokio::test]
async fn sign_in_as_rejects_bad_name() {
    let error = alter::dev::DevVault::builder()
        .sign_in_as("Not A Name")
        .start()
        .await
        .unwrap_err();
    let alter::dev::StartError::InvalidConfig(problems) = &error else {
        panic!("expected an invalid configuration, got {error:?}");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sign_in_as: invalid user name"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn long_poll_returns_when_user_signs_in() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();

    // The poll is in flight, held open by DevVault, when the user submits the form.
    let waiter = {
        let vault = vault.clone();
        let token = session.session_token.clone();
        tokio::spawn(async move {
            vault
                .poll_auth_session(token)
                .timeout(Duration::from_secs(60))
                .await
        })
    };
    let form = page_client().get(&session.auth_url).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    assert!(html.contains(r#"name="user""#), "{html}");

    let submitted = page_client()
        .post(&session.auth_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=bob")
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::OK);
    let user = waiter.await.unwrap().unwrap();
    assert_eq!(user.user_info["sub"], "bob");

    let again = page_client().get(&session.auth_url).send().await.unwrap();
    assert!(again.text().await.unwrap().contains("already finished"));
}

#[tokio::test]
async fn sign_in_form_rejects_bad_name() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();
    let rejected = page_client()
        .post(&session.auth_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=%3Cscript%3E")
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    let html = rejected.text().await.unwrap();
    assert!(!html.contains("<script>"), "the name is escaped: {html}");
    assert!(matches!(
        vault
            .auth_session_status(&session.session_token)
            .await
            .unwrap(),
        AuthStatus::Pending
    ));
}

#[tokio::test]
async fn cancelled_sign_in_is_typed_error() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();
    let cancelled = page_client()
        .post(format!("{}/cancel", session.auth_url))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);

    let error = vault
        .poll_auth_session(&session.session_token)
        .timeout(Duration::from_secs(30))
        .await
        .unwrap_err();
    let Error::SignIn(sign_in) = &error else {
        panic!("expected a sign-in error, got {error:?}");
    };
    assert_eq!(sign_in.kind, SignInErrorKind::Failed);
    assert_eq!(error.code(), Some("access_denied"));
}

#[tokio::test]
async fn expired_sign_in_is_typed_error() {
    let dev = alter::dev::DevVault::builder()
        .sign_in_session_lifetime(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();
    let error = vault
        .poll_auth_session(&session.session_token)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::SignIn(sign_in) if sign_in.kind == SignInErrorKind::Expired
        ),
        "{error:?}"
    );
    let page = page_client().get(&session.auth_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
}

#[tokio::test]
async fn poll_deadline_is_typed_error() {
    let dev = start(false).await;
    let vault = vault(&dev);
    let session = vault.create_auth_session().await.unwrap();
    let error = vault
        .poll_auth_session(&session.session_token)
        .timeout(Duration::from_millis(200))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap_err();
    let Error::SignIn(sign_in) = &error else {
        panic!("expected a sign-in error, got {error:?}");
    };
    assert_eq!(sign_in.kind, SignInErrorKind::TimedOut);
    assert_eq!(error.code(), Some("poll_deadline_elapsed"));
}

#[tokio::test]
async fn unknown_session_and_bad_tokens() {
    let dev = start(true).await;
    let vault = vault(&dev);

    let unknown = vault
        .poll_auth_session("as_unknown")
        .timeout(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(404), "{unknown:?}");
    assert_eq!(unknown.code(), Some("auth_session_not_found"));

    let empty = vault.verify_user_token("  ").await.unwrap_err();
    assert!(matches!(empty, Error::InvalidRequest(_)), "{empty:?}");
    let forged = vault.verify_user_token("a.b.c").await.unwrap_err();
    assert!(matches!(forged, Error::UserTokenRejected(_)), "{forged:?}");
    let expired = vault
        .verify_user_token(&dev.expired_user_token("alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(expired, Error::UserTokenRejected(_)),
        "{expired:?}"
    );
}

#[tokio::test]
async fn sign_in_endpoints_reject_bad_bodies() {
    let dev = start(true).await;
    let client = Client::new(&dev);

    let extra = client.post("/sdk/auth/session", &json!({"x": 1})).await;
    expect_error(extra, StatusCode::BAD_REQUEST, "invalid_request").await;

    let created = client.post("/sdk/auth/session", &json!({})).await;
    let (status, session) = json_of(created).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = session["session_token"].as_str().unwrap();

    for wait in [json!(25_001), json!(-1), json!(1.5)] {
        let poll = client
            .post(
                "/sdk/auth/poll",
                &json!({"session_token": token, "wait_ms": wait}),
            )
            .await;
        expect_error(poll, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    }
    let wrong_type = client
        .post(
            "/sdk/auth/poll",
            &json!({"session_token": token, "wait_ms": "5"}),
        )
        .await;
    expect_error(wrong_type, StatusCode::BAD_REQUEST, "invalid_request").await;
    let missing = client.post("/sdk/auth/verify-token", &json!({})).await;
    expect_error(missing, StatusCode::BAD_REQUEST, "invalid_request").await;

    let unknown_page = page_client()
        .get(format!("{}/signin/nope", dev.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_page.status(), StatusCode::NOT_FOUND);
}
