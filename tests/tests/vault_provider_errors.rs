//! Provider error statuses become typed errors after the audit row is scheduled, an
//! `insufficient_scope` challenge is reported to the backend, and redirects are never followed,
//! so a credential never reaches a host the caller did not name.

use alter::{Error, Method, Vault};
use alter_tests::stand_in::fixtures::{
    ACCESS_TOKEN, ADDITIONAL_CREDENTIAL, AUDIT_PATH, GRANT_ID, PROVIDER_ID, TOKEN_PATH, USER_TOKEN,
    bounded, scope_report_path, token_response, token_response_with, vault_builder,
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
    /// Scripts the provider's response for `/resource` and sends one GET to it.
    async fn call(&self, reply: Reply) -> Result<alter::vault::Response, Error> {
        self.provider.script("/resource", reply);
        bounded(
            self.vault
                .request(Method::GET, self.provider.url_of("/resource"))
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
    }

    /// Waits for the background posts and returns the audit rows.
    async fn audit_rows(&self) -> Vec<Value> {
        self.vault.flush().await;
        self.backend
            .received_at(AUDIT_PATH)
            .iter()
            .map(alter_tests::stand_in::Received::json)
            .collect()
    }
}

fn provider_error(error: &Error) -> &alter::error::ProviderError {
    match error {
        Error::Provider(provider) | Error::ProviderUnauthorized(provider) => provider,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

fn scope_reauth(error: &Error) -> &alter::error::ScopeReauth {
    match error {
        Error::ScopeReauthRequired(reauth) => reauth,
        other => panic!("expected Error::ScopeReauthRequired, got {other:?}"),
    }
}

#[tokio::test]
async fn provider_401_is_unauthorized() {
    let setup = setup().await;
    let challenge = r#"Bearer realm="api", error="invalid_token""#;
    let error = setup
        .call(
            Reply::json(401, &json!({ "message": "Bad credentials" }))
                .with_header("www-authenticate", challenge),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ProviderUnauthorized(_)), "{error:?}");
    let provider = provider_error(&error);
    assert_eq!(provider.status, 401);
    assert_eq!(provider.method, "GET");
    assert_eq!(provider.url, setup.provider.url_of("/resource"));
    assert_eq!(provider.grant_id.as_deref(), Some(GRANT_ID));
    assert_eq!(provider.provider_id.as_deref(), Some(PROVIDER_ID));
    assert_eq!(provider.www_authenticate.as_deref(), Some(challenge));
    assert_eq!(provider.body, r#"{"message":"Bad credentials"}"#);
    assert!(error.needs_connect_session());
    assert_eq!(
        error.to_string(),
        format!(
            "provider rejected the credential with HTTP 401 for GET {}",
            setup.provider.url_of("/resource")
        )
    );

    let rows = setup.audit_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["response_status"], 401);
    assert!(setup.backend.received_at(&scope_report_path()).is_empty());
}

#[tokio::test]
async fn insufficient_scope_reported() {
    let setup = setup().await;
    let challenge = r#"Bearer realm="api", error="insufficient_scope", scope="repo read:org""#;
    let error = setup
        .call(Reply::empty(403).with_header("www-authenticate", challenge))
        .await
        .unwrap_err();
    let reauth = scope_reauth(&error);
    assert_eq!(reauth.status, 403);
    assert_eq!(reauth.missing_scopes, ["repo", "read:org"]);
    assert_eq!(reauth.source, "provider_insufficient_scope");
    assert_eq!(reauth.grant_id.as_deref(), Some(GRANT_ID));
    assert_eq!(error.provider_id(), Some(PROVIDER_ID));
    assert!(error.needs_connect_session());
    assert_eq!(
        error.to_string(),
        "scope re-authorization required for provider `github`: missing repo, read:org"
    );

    let rows = setup.audit_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["response_status"], 403);
    let reports = setup.backend.received_at(&scope_report_path());
    assert_eq!(reports.len(), 1);
    let report = reports[0].json();
    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "provider_status_code",
            "provider_error_code",
            "missing_scopes",
            "raw_www_authenticate",
            "api_endpoint",
            "detection_source",
            "sdk_correlation_id",
        ]
    );
    assert_eq!(report["provider_status_code"], 403);
    assert_eq!(report["provider_error_code"], "insufficient_scope");
    assert_eq!(report["missing_scopes"], json!(["repo", "read:org"]));
    assert_eq!(report["raw_www_authenticate"], challenge);
    assert_eq!(report["api_endpoint"], setup.provider.url_of("/resource"));
    assert_eq!(report["detection_source"], "www_authenticate_rfc6750");
    let correlation_id = report["sdk_correlation_id"].as_str().unwrap();
    assert_eq!(correlation_id.len(), 22);
    assert!(
        correlation_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{correlation_id}"
    );
    assert!(reports[0].header("x-alter-context").is_none());
    assert!(reports[0].header("x-api-key").is_some());
}

#[tokio::test]
async fn insufficient_scope_without_scopes() {
    let setup = setup().await;
    let error = setup
        .call(
            Reply::empty(403)
                .with_header("www-authenticate", r#"Bearer error="insufficient_scope""#),
        )
        .await
        .unwrap_err();
    let reauth = scope_reauth(&error);
    assert!(reauth.missing_scopes.is_empty());
    assert!(
        error
            .to_string()
            .ends_with("the missing scopes were not reported"),
        "{error}"
    );
    setup.vault.flush().await;
    let reports = setup.backend.received_at(&scope_report_path());
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].json()["missing_scopes"], Value::Null);
}

#[tokio::test]
async fn backend_scope_mismatch_flag() {
    let setup = setup().await;
    setup.backend.script(
        TOKEN_PATH,
        Reply::json(
            200,
            &token_response_with("scope_mismatch", Some(json!(true))),
        ),
    );
    let error = setup
        .call(Reply::json(
            403,
            &json!({ "message": "Resource not accessible" }),
        ))
        .await
        .unwrap_err();
    let reauth = scope_reauth(&error);
    assert_eq!(reauth.status, 403);
    assert_eq!(reauth.source, "backend_flag");
    assert!(reauth.missing_scopes.is_empty());
    assert_eq!(reauth.grant_id.as_deref(), Some(GRANT_ID));

    let rows = setup.audit_rows().await;
    assert_eq!(rows.len(), 1);
    assert!(
        setup.backend.received_at(&scope_report_path()).is_empty(),
        "the backend flagged the mismatch itself, so no report is sent"
    );
}

#[tokio::test]
async fn scope_mismatch_flag_ignored_on_success() {
    let setup = setup().await;
    setup.backend.script(
        TOKEN_PATH,
        Reply::json(
            200,
            &token_response_with("scope_mismatch", Some(json!(true))),
        ),
    );
    let response = setup.call(Reply::json(200, &json!({ "ok": true }))).await;
    assert_eq!(response.unwrap().status(), 200);
}

#[tokio::test]
async fn plain_403_is_provider_error() {
    let setup = setup().await;
    let error = setup
        .call(Reply::json(403, &json!({ "message": "Forbidden" })))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Provider(_)), "{error:?}");
    assert_eq!(provider_error(&error).status, 403);
    assert!(!error.needs_connect_session());
}

#[tokio::test]
async fn provider_404_keeps_status() {
    let setup = setup().await;
    let error = setup
        .call(Reply::raw(404, "text/plain", "no such repository"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Provider(_)), "{error:?}");
    let provider = provider_error(&error);
    assert_eq!(provider.status, 404);
    assert_eq!(error.status(), Some(404));
    assert_eq!(provider.body, "no such repository");
    assert_eq!(provider.www_authenticate, None);
    assert_eq!(
        error.to_string(),
        format!(
            "provider returned HTTP 404 for GET {}",
            setup.provider.url_of("/resource")
        )
    );
    let rows = setup.audit_rows().await;
    assert_eq!(rows[0]["response_status"], 404);
    assert_eq!(rows[0]["response_body"], "no such repository");
}

#[tokio::test]
async fn provider_401_with_scope_challenge_is_generic() {
    let setup = setup().await;
    let error = setup
        .call(
            Reply::empty(401)
                .with_header("www-authenticate", r#"Bearer error="insufficient_scope""#),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Provider(_)), "{error:?}");
    assert_eq!(error.status(), Some(401));
    setup.vault.flush().await;
    assert!(setup.backend.received_at(&scope_report_path()).is_empty());
}

#[tokio::test]
async fn provider_5xx_is_provider_error() {
    let setup = setup().await;
    for status in [500, 502, 503] {
        let error = setup
            .call(Reply::raw(status, "text/html", "<html>down</html>"))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Provider(_)), "{error:?}");
        assert_eq!(error.status(), Some(status));
    }
}

#[tokio::test]
async fn redirects_not_followed() {
    let setup = setup().await;
    let elsewhere = StandIn::provider().await;
    for status in [301, 302, 303, 307, 308] {
        let location = elsewhere.url_of("/stolen");
        let response = setup
            .call(Reply::empty(status).with_header("location", &location))
            .await
            .unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(
            response
                .headers()
                .get("location")
                .unwrap()
                .to_str()
                .unwrap(),
            location
        );
    }
    let same_host = setup.provider.url_of("/moved");
    let response = setup
        .call(Reply::empty(302).with_header("location", &same_host))
        .await
        .unwrap();
    assert_eq!(response.status(), 302);

    assert!(elsewhere.received().is_empty(), "a redirect was followed");
    assert!(setup.provider.received_at("/moved").is_empty());
    assert_eq!(setup.provider.received_at("/resource").len(), 6);
    let rows = setup.audit_rows().await;
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0]["response_status"], 301);
}

#[tokio::test]
async fn error_url_omits_injected_query() {
    let setup = setup().await;
    let mut response = token_response();
    response["additional_credentials"] = json!({ "api_key": ADDITIONAL_CREDENTIAL });
    response["additional_injections"] = json!([
        { "target": "query_param", "key": "key", "value_source": "additional_credentials.api_key" },
    ]);
    setup
        .backend
        .script(TOKEN_PATH, Reply::json(200, &response));
    let error = setup
        .call(Reply::raw(404, "text/plain", "not found"))
        .await
        .unwrap_err();

    let received = setup.provider.received_at("/resource");
    assert_eq!(
        received[0].query.as_deref(),
        Some(format!("key={ADDITIONAL_CREDENTIAL}").as_str()),
        "the credential was injected"
    );
    assert_eq!(
        provider_error(&error).url,
        setup.provider.url_of("/resource")
    );
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(ADDITIONAL_CREDENTIAL), "{text}");
        assert!(!text.contains(ACCESS_TOKEN), "{text}");
    }
    let rows = setup.audit_rows().await;
    assert_eq!(rows[0]["url"], setup.provider.url_of("/resource"));
}
