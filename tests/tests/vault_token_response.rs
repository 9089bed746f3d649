//! `/sdk/token` responses that break the protocol. Each one fails with
//! `Error::MalformedResponse` for `/sdk/token`, naming the field. The provider is never called,
//! no audit row is written, and no message contains the credential.

use alter::{Error, Method, Vault};
use alter_tests::stand_in::fixtures::{
    ACCESS_TOKEN, ADDITIONAL_CREDENTIAL, AUDIT_PATH, PROVIDER_ID, TOKEN_PATH, USER_TOKEN, bounded,
    token_response, token_response_with, vault_builder,
};
use alter_tests::stand_in::{Reply, StandIn};
use serde_json::{Value, json};

struct Setup {
    backend: StandIn,
    provider: StandIn,
    vault: Vault,
}

async fn setup() -> Setup {
    let backend = StandIn::backend().await;
    let provider = StandIn::provider().await;
    let vault = vault_builder(&backend)
        .build()
        .unwrap()
        .with_user_token(USER_TOKEN);
    Setup {
        backend,
        provider,
        vault,
    }
}

impl Setup {
    /// Scripts `/sdk/token` to respond with `body`, sends a request and returns its error.
    async fn send_with_token_response(&self, body: &Value) -> Error {
        self.backend.script(TOKEN_PATH, Reply::json(200, body));
        bounded(
            self.vault
                .request(Method::GET, self.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
        .expect_err("a malformed token response must fail the request")
    }

    /// Asserts that every request stopped at `/sdk/token`: `count` credential requests, no
    /// provider call and no audit row.
    async fn assert_stopped_at_token(&self, count: usize) {
        self.vault.flush().await;
        assert_eq!(self.backend.received_at(TOKEN_PATH).len(), count);
        assert!(
            self.backend.received_at(AUDIT_PATH).is_empty(),
            "an audit row was sent"
        );
        assert!(
            self.provider.received().is_empty(),
            "the provider was called"
        );
    }
}

/// Returns the reason of a `MalformedResponse` for `/sdk/token`, after checking that neither
/// the message nor the `Debug` output contains a credential.
fn malformed_reason(case: &str, error: Error) -> String {
    let message = error.to_string();
    let debug = format!("{error:?}");
    for secret in [ACCESS_TOKEN, ADDITIONAL_CREDENTIAL, "accessTokenCanary"] {
        assert!(!message.contains(secret), "{case}: {message}");
        assert!(!debug.contains(secret), "{case}: {debug}");
    }
    let Error::MalformedResponse { endpoint, reason } = error else {
        panic!("{case}: expected Error::MalformedResponse, got {error:?}");
    };
    assert_eq!(endpoint, "/sdk/token", "{case}");
    assert!(
        message.starts_with("malformed backend response from /sdk/token: "),
        "{case}: {message}"
    );
    reason
}

#[tokio::test]
async fn missing_access_token() {
    let setup = setup().await;
    let error = setup
        .send_with_token_response(&token_response_with("access_token", None))
        .await;
    let reason = malformed_reason("missing access_token", error);
    assert_eq!(reason, "`access_token` is missing");
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn missing_grant_id() {
    let setup = setup().await;
    let error = setup
        .send_with_token_response(&token_response_with("grant_id", None))
        .await;
    let reason = malformed_reason("missing grant_id", error);
    assert_eq!(reason, "`grant_id` is missing");
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn non_canonical_grant_id() {
    let setup = setup().await;
    let cases = [
        json!("6F1C2D3E-4A5B-4C6D-8E7F-9A0B1C2D3E4F"),
        json!("6f1c2d3e4a5b4c6d8e7f9a0b1c2d3e4f"),
        json!("{6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f}"),
        json!("urn:uuid:6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"),
        json!(" 6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"),
        json!("grant-1"),
        json!(""),
    ];
    for grant_id in &cases {
        let error = setup
            .send_with_token_response(&token_response_with("grant_id", Some(grant_id.clone())))
            .await;
        let reason = malformed_reason(&grant_id.to_string(), error);
        assert!(
            reason.starts_with("`grant_id` must be a canonical lower-case hyphenated UUID"),
            "{grant_id}: {reason}"
        );
    }
    let error = setup
        .send_with_token_response(&token_response_with("grant_id", Some(json!(42))))
        .await;
    let reason = malformed_reason("numeric grant_id", error);
    assert!(reason.contains("`grant_id` must be a string"), "{reason}");
    setup.assert_stopped_at_token(cases.len() + 1).await;
}

#[tokio::test]
async fn forbidden_injection_header() {
    let setup = setup().await;
    let headers = [
        "Host",
        "Cookie",
        "set-cookie",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "Proxy-Authorization",
        "X-Forwarded-For",
        "X-HTTP-Method-Override",
        "WWW-Authenticate",
    ];
    for header in headers {
        let error = setup
            .send_with_token_response(&token_response_with(
                "injection_header",
                Some(json!(header)),
            ))
            .await;
        let reason = malformed_reason(header, error);
        assert_eq!(
            reason,
            format!(
                "`injection_header` names the header `{header}`, which a credential may not be \
                 injected into"
            )
        );
    }
    setup.assert_stopped_at_token(headers.len()).await;
}

#[tokio::test]
async fn invalid_injection_header_name() {
    let setup = setup().await;
    let cases = [
        (
            "X Auth",
            "must start with a letter and contain only letters, digits and '-'",
        ),
        (
            "X-Auth:",
            "must start with a letter and contain only letters, digits and '-'",
        ),
        ("1-Auth", "must start with a letter"),
        ("", "must be 1 to 60 characters long, not 0"),
    ];
    for (header, expected) in cases {
        let error = setup
            .send_with_token_response(&token_response_with(
                "injection_header",
                Some(json!(header)),
            ))
            .await;
        let reason = malformed_reason(header, error);
        assert!(reason.contains(expected), "{header:?}: {reason}");
    }
    setup.assert_stopped_at_token(cases.len()).await;
}

#[tokio::test]
async fn injection_format_without_placeholder() {
    let setup = setup().await;
    for format in ["Bearer", "Bearer {tok}", "token={TOKEN}", ""] {
        let error = setup
            .send_with_token_response(&token_response_with(
                "injection_format",
                Some(json!(format)),
            ))
            .await;
        let reason = malformed_reason(format, error);
        assert_eq!(
            reason,
            "`injection_format` must contain the `{token}` placeholder unless it starts with \
             `AWS4-HMAC-SHA256`"
        );
    }
    setup.assert_stopped_at_token(4).await;
}

#[tokio::test]
async fn injection_format_with_line_break() {
    let setup = setup().await;
    let error = setup
        .send_with_token_response(&token_response_with(
            "injection_format",
            Some(json!("Bearer {token}\r\nX-Injected: 1")),
        ))
        .await;
    let reason = malformed_reason("CRLF in injection_format", error);
    assert_eq!(
        reason,
        "`injection_format` contains a CR, LF or NUL character"
    );
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn float_expires_in() {
    let setup = setup().await;
    let cases = [
        json!(3599.0),
        json!(3599.5),
        json!(-1),
        json!("3600"),
        json!(true),
    ];
    for expires_in in &cases {
        let error = setup
            .send_with_token_response(&token_response_with("expires_in", Some(expires_in.clone())))
            .await;
        let reason = malformed_reason(&expires_in.to_string(), error);
        assert!(
            reason.starts_with("`expires_in` must be a non-negative JSON integer"),
            "{expires_in}: {reason}"
        );
    }
    setup.assert_stopped_at_token(cases.len()).await;
}

#[tokio::test]
async fn access_token_with_line_break() {
    let setup = setup().await;
    let token = format!("{ACCESS_TOKEN}\r\nX-Injected: 1");
    let error = setup
        .send_with_token_response(&token_response_with("access_token", Some(json!(token))))
        .await;
    let reason = malformed_reason("CRLF in access_token", error);
    assert_eq!(reason, "`access_token` contains a CR, LF or NUL character");
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn access_token_not_a_string() {
    let setup = setup().await;
    for (value, expected) in [
        (json!(""), "`access_token` is empty"),
        (json!(null), "`access_token` must be a string, not null"),
        (
            json!(["gho_x"]),
            "`access_token` must be a string, not an array",
        ),
    ] {
        let error = setup
            .send_with_token_response(&token_response_with("access_token", Some(value.clone())))
            .await;
        let reason = malformed_reason(&value.to_string(), error);
        assert!(reason.contains(expected), "{value}: {reason}");
    }
    setup.assert_stopped_at_token(3).await;
}

#[tokio::test]
async fn forbidden_additional_injection_header() {
    let setup = setup().await;
    let mut response = token_response();
    response["additional_credentials"] = json!({ "session": ADDITIONAL_CREDENTIAL });
    response["additional_injections"] = json!([
        { "target": "header", "key": "Cookie", "value_source": "additional_credentials.session" },
    ]);
    let error = setup.send_with_token_response(&response).await;
    let reason = malformed_reason("Cookie injection", error);
    assert!(
        reason.contains("names the header `Cookie`, which a credential may not be injected into"),
        "{reason}"
    );
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn additional_credential_with_line_break() {
    let setup = setup().await;
    let mut response = token_response();
    response["additional_credentials"] =
        json!({ "api_key": format!("{ADDITIONAL_CREDENTIAL}\nX-Injected: 1") });
    let error = setup.send_with_token_response(&response).await;
    let reason = malformed_reason("LF in additional credential", error);
    assert_eq!(
        reason,
        "`additional_credentials.api_key` contains a CR, LF or NUL character"
    );
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn unknown_key_in_injection_rule() {
    let setup = setup().await;
    let mut response = token_response();
    response["additional_injections"] = json!([
        { "target": "header", "key": "X-Api-Key", "value_source": "token", "extra": 1 },
    ]);
    let error = setup.send_with_token_response(&response).await;
    let reason = malformed_reason("extra key", error);
    assert!(
        reason.contains("`additional_injections[0]` has the unknown key \"extra\""),
        "{reason}"
    );
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn strict_scope_mismatch_flag() {
    let setup = setup().await;
    let error = setup
        .send_with_token_response(&token_response_with("scope_mismatch", Some(json!("true"))))
        .await;
    let reason = malformed_reason("string scope_mismatch", error);
    assert!(
        reason.starts_with("`scope_mismatch` must be a JSON boolean"),
        "{reason}"
    );
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn sigv4_provider_rejected_before_provider_call() {
    let setup = setup().await;
    let mut response = token_response();
    response["injection_format"] = json!("AWS4-HMAC-SHA256 Credential={token}");
    response["additional_credentials"] = json!({ "secret_key": ADDITIONAL_CREDENTIAL });
    let error = setup.send_with_token_response(&response).await;
    let message = error.to_string();
    assert!(!message.contains(ADDITIONAL_CREDENTIAL), "{message}");
    assert!(!message.contains(ACCESS_TOKEN), "{message}");
    let Error::InvalidRequest(message) = error else {
        panic!("expected Error::InvalidRequest, got {error:?}");
    };
    assert!(
        message.contains("requires AWS Signature V4 request signing"),
        "{message}"
    );
    assert!(
        message.contains("call it in proxy mode instead"),
        "{message}"
    );
    setup.assert_stopped_at_token(1).await;
}

#[tokio::test]
async fn lenient_fields_accepted() {
    let setup = setup().await;
    let mut response = token_response();
    response["expires_in"] = Value::Null;
    response["expires_at"] = Value::Null;
    response["token_generation"] = Value::Null;
    response["additional_injections"] = Value::Null;
    response["retry_info"] = json!("not an object");
    response["unknown_future_field"] = json!({ "nested": [1, 2, 3] });
    setup
        .backend
        .script(TOKEN_PATH, Reply::json(200, &response));
    let answer = bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    let received = setup.provider.received_at("/user");
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
}
