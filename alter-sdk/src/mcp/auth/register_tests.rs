use serde_json::json;

use super::*;
use crate::mcp::auth::config::test_config;

fn validate(request: Value) -> Result<ClientMetadata, OAuthError> {
    let Value::Object(request) = request else {
        panic!("test requests are objects");
    };
    validate_metadata(&request, &test_config())
}

fn error_of(request: Value) -> OAuthError {
    match validate(request) {
        Ok(metadata) => panic!("expected an error, got {:?}", metadata.fields),
        Err(error) => error,
    }
}

#[test]
fn claude_code_request_accepted() {
    let metadata = validate(json!({
        "client_name": "claude-code",
        "redirect_uris": ["http://localhost:53123/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }))
    .unwrap();
    assert_eq!(
        Value::Object(metadata.fields),
        json!({
            "redirect_uris": ["http://localhost:53123/callback"],
            "client_name": "claude-code",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    );
    assert_eq!(metadata.redirect_uris, ["http://localhost:53123/callback"]);
}

#[test]
fn defaults_filled_in() {
    let metadata = validate(json!({"redirect_uris": ["https://app.example/cb"]})).unwrap();
    assert_eq!(
        metadata.fields["grant_types"],
        json!(["authorization_code"])
    );
    assert_eq!(metadata.fields["response_types"], json!(["code"]));
    assert_eq!(metadata.fields["token_endpoint_auth_method"], "none");
    assert!(!metadata.fields.contains_key("client_name"));
    assert!(!metadata.fields.contains_key("application_type"));
}

#[test]
fn application_type_echoed() {
    let metadata = validate(json!({
        "redirect_uris": ["http://127.0.0.1:1/cb"],
        "application_type": "native",
    }))
    .unwrap();
    assert_eq!(metadata.fields["application_type"], "native");
    let error = error_of(json!({
        "redirect_uris": ["http://127.0.0.1:1/cb"],
        "application_type": "desktop",
    }));
    assert_eq!(error.code, "invalid_client_metadata");
}

#[test]
fn scope_filtered_to_supported() {
    let metadata = validate(json!({
        "redirect_uris": ["https://app.example/cb"],
        "scope": "openid mcp profile",
    }))
    .unwrap();
    assert_eq!(metadata.fields["scope"], "mcp");
    let metadata = validate(json!({
        "redirect_uris": ["https://app.example/cb"],
        "scope": "openid",
    }))
    .unwrap();
    assert!(!metadata.fields.contains_key("scope"));
}

#[test]
fn redirect_uri_problems() {
    for request in [
        json!({}),
        json!({"redirect_uris": []}),
        json!({"redirect_uris": "https://app.example/cb"}),
        json!({"redirect_uris": [1]}),
        json!({"redirect_uris": ["http://localhost.evil.example:51353/callback"]}),
        json!({"redirect_uris": ["https://app.example/cb#x"]}),
        json!({"redirect_uris": vec!["https://app.example/cb"; MAX_REDIRECT_URIS + 1]}),
        json!({"redirect_uris": [
            format!("https://app.example/{}", "a".repeat(2000)),
            format!("https://app.example/{}", "b".repeat(2000)),
            format!("https://app.example/{}", "c".repeat(100)),
        ]}),
    ] {
        let error = error_of(request.clone());
        assert_eq!(error.code, "invalid_redirect_uri", "{request}");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }
}

#[test]
fn metadata_problems() {
    let uris = json!(["https://app.example/cb"]);
    for (field, value) in [
        ("client_name", json!(7)),
        ("client_name", json!("x".repeat(MAX_CLIENT_NAME_CHARS + 1))),
        ("client_name", json!("bad\nname")),
        ("grant_types", json!(["client_credentials"])),
        ("grant_types", json!(["refresh_token"])),
        ("grant_types", json!("authorization_code")),
        ("grant_types", json!(vec!["authorization_code"; 11])),
        ("response_types", json!(["token"])),
        ("token_endpoint_auth_method", json!("client_secret_basic")),
        ("token_endpoint_auth_method", json!("private_key_jwt")),
        ("application_type", json!(["native"])),
        ("scope", json!(["mcp"])),
    ] {
        let error = error_of(json!({"redirect_uris": uris, field: value}));
        assert_eq!(error.code, "invalid_client_metadata", "{field}: {value}");
    }
}

#[test]
fn long_value_cut_in_description() {
    let error = error_of(json!({
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "x".repeat(8192),
    }));
    assert!(error.description.len() < 300, "{}", error.description.len());
}

#[test]
fn client_name_at_limit_accepted() {
    let name = "é".repeat(MAX_CLIENT_NAME_CHARS);
    let metadata = validate(json!({
        "redirect_uris": ["https://app.example/cb"],
        "client_name": name,
    }))
    .unwrap();
    assert_eq!(metadata.fields["client_name"], name);
}
