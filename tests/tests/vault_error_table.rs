//! Every recorded backend error response, served by DevVault's fault switch to the vault client
//! over a real socket, must surface as the typed error the reference client raised for it.
//!
//! Each case runs twice: in retrieve mode (`request().send()`, served on `POST /sdk/token`)
//! and in proxy mode (`proxy_request().send()`, served on `POST /sdk/proxy`), because the
//! client maps the error responses of both endpoints through the same table. The expectations are the ones the mapper's own test checks, from the shared
//! `error_vectors` module.

#[path = "../../alter-sdk/tests/error_vectors/mod.rs"]
mod error_vectors;

use std::time::Duration;

use alter::dev::{DevVault, Fault, FaultRepeat};
use alter::{Error, Method, Vault};
use error_vectors::{
    assert_like_reference, case_body, case_code, case_headers, case_status, error_cases,
};
use serde_json::Value;

const TOKEN_PATH: &str = "/sdk/token";
const PROXY_PATH: &str = "/sdk/proxy";
/// The client retries a `token_refresh_in_progress` response this many times in these tests.
const TOKEN_REFRESH_RETRIES: u32 = 2;

/// The client call that receives a case's response.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Retrieve,
    Proxy,
}

/// Returns the case at `index`, after checking that it still is the one the test is named for.
/// `code` is empty for a body without an `error` code.
fn case(index: usize, code: &str, status: u16) -> Value {
    let case = error_cases()
        .into_iter()
        .nth(index)
        .unwrap_or_else(|| panic!("no recorded error case at index {index}"));
    assert_eq!(case_status(&case), status, "status of case {index}");
    let recorded_code = case_code(&case).unwrap_or("");
    assert_eq!(recorded_code, code, "code of case {index}");
    case
}

/// Builds the fault that replays a case verbatim.
fn fault_of(case: &Value) -> Fault {
    let mut fault = match &case["body"] {
        Value::String(_) => Fault::raw(case_status(case), case_body(case)),
        body => Fault::json(case_status(case), body.clone()),
    };
    for (name, value) in case_headers(case) {
        fault = fault.header(name, value);
    }
    fault
}

/// Serves case `index` on the endpoint of `mode`, makes the client call, and checks the error
/// and how many requests reached the fault.
async fn check(mode: Mode, index: usize, code: &str, status: u16) {
    let case = case(index, code, status);
    let dev = DevVault::builder().start().await.expect("DevVault starts");
    let vault = Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .token_refresh_retries(TOKEN_REFRESH_RETRIES)
        .token_refresh_backoff(Duration::from_millis(1))
        .build()
        .expect("vault builds");
    let alice = vault.with_user_token(dev.user_token("alice"));
    let endpoint = match mode {
        Mode::Retrieve => TOKEN_PATH,
        Mode::Proxy => PROXY_PATH,
    };
    dev.set_fault(endpoint, fault_of(&case), FaultRepeat::Always)
        .expect("the recorded response is a valid fault");

    let url = format!("{}/me", dev.demo_api_url());
    let error = match mode {
        Mode::Retrieve => alice
            .request(Method::GET, url)
            .provider("demo")
            .send()
            .await
            .map(|response| response.status()),
        Mode::Proxy => alice
            .proxy_request(Method::GET, url)
            .provider("demo")
            .send()
            .await
            .map(|response| response.status()),
    }
    .expect_err("the fault makes the call fail");

    assert_like_reference(&error, &case, &format!("{mode:?} case {index}"));
    let retried =
        matches!(mode, Mode::Retrieve) && matches!(error, Error::TokenRefreshInProgress(_));
    let expected_requests = if retried {
        1 + u64::from(TOKEN_REFRESH_RETRIES)
    } else {
        1
    };
    assert_eq!(dev.faults_served(endpoint), expected_requests, "{mode:?}");
    vault.flush().await;
    assert!(dev.audit_log().is_empty(), "the provider was never called");
    dev.shutdown().await;
}

/// Generates one retrieve-mode and one proxy-mode test per recorded case.
macro_rules! error_table {
    ($($name:ident: $index:literal, $code:literal, $status:literal;)*) => {
        mod retrieve {
            $(
                #[tokio::test]
                async fn $name() {
                    super::check(super::Mode::Retrieve, $index, $code, $status).await;
                }
            )*
        }

        mod proxy {
            $(
                #[tokio::test]
                async fn $name() {
                    super::check(super::Mode::Proxy, $index, $code, $status).await;
                }
            )*
        }

        #[test]
        fn table_covers_every_case() {
            let names = [$(stringify!($name)),*];
            assert_eq!(names.len(), error_cases().len(), "one test per recorded case");
        }
    };
}

error_table! {
    grant_not_found_404: 0, "grant_not_found", 404;
    no_delegated_grant_404_envelope: 1, "no_delegated_grant", 404;
    no_delegated_grant_409: 2, "no_delegated_grant", 409;
    scope_mismatch_403: 3, "scope_mismatch", 403;
    credential_revoked_403: 4, "credential_revoked", 403;
    credential_revoked_400: 5, "credential_revoked", 400;
    grant_expired_403: 6, "grant_expired", 403;
    grant_revoked_403: 7, "grant_revoked", 403;
    grant_deleted_410: 8, "grant_deleted", 410;
    policy_denied_403: 9, "policy_denied", 403;
    insufficient_scope_403: 10, "insufficient_scope", 403;
    rate_limit_exceeded_429: 11, "rate_limit_exceeded", 429;
    quota_exceeded_429: 12, "quota_exceeded", 429;
    rate_limit_not_json_429: 13, "", 429;
    ambiguous_grant_409: 14, "ambiguous_grant", 409;
    restricted_grant_requires_proxy_400: 15, "restricted_grant_requires_proxy", 400;
    delegated_grant_requires_proxy_400: 16, "delegated_grant_requires_proxy", 400;
    hitl_grant_requires_proxy_400: 17, "hitl_grant_requires_proxy", 400;
    user_limits_require_proxy_400: 18, "user_limits_require_proxy", 400;
    restricted_grant_requires_proxy_403: 19, "restricted_grant_requires_proxy", 403;
    invalid_key_401: 20, "invalid_key", 401;
    jwt_validation_error_401: 21, "jwt_validation_error", 401;
    key_revoked_401: 22, "key_revoked", 401;
    token_refresh_in_progress_409: 23, "token_refresh_in_progress", 409;
    service_unavailable_503: 24, "", 503;
    caller_agent_resolution_error_500: 25, "caller_agent_resolution_error", 500;
    gateway_timeout_504: 26, "gateway_timeout", 504;
    blocked_destination_422: 27, "blocked_destination", 422;
    caller_agent_unresolved_404: 28, "caller_agent_unresolved", 404;
    caller_agent_mismatch_400: 29, "caller_agent_mismatch", 400;
}

/// A fault replaces only the handler's response: a request with a bad signature still gets the
/// signature error, and does not use up the fault.
#[tokio::test]
async fn fault_comes_after_signature_check() {
    let dev = DevVault::builder().start().await.expect("DevVault starts");
    let case = case(0, "grant_not_found", 404);
    dev.set_fault(TOKEN_PATH, fault_of(&case), FaultRepeat::Next(1))
        .expect("valid fault");

    let response = reqwest::Client::new()
        .post(format!("{}{TOKEN_PATH}", dev.base_url()))
        .header("x-api-key", dev.api_key().expose_secret())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("DevVault answers");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], "missing_signature", "{body}");
    assert_eq!(dev.faults_served(TOKEN_PATH), 0);

    let vault = Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .expect("vault builds");
    let error = vault
        .with_user_token(dev.user_token("alice"))
        .request(Method::GET, format!("{}/me", dev.demo_api_url()))
        .provider("demo")
        .send()
        .await
        .expect_err("the fault answers");
    assert_like_reference(&error, &case, "after a rejected signature");
    assert_eq!(dev.faults_served(TOKEN_PATH), 1);
    dev.shutdown().await;
}
