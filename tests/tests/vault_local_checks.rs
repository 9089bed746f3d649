//! Local checks on the provider URL: plain http off loopback, unfilled path templates and stray
//! braces fail before any request leaves the process, and a path parameter value stays one
//! path segment.

use alter::{Error, Method, Vault};
use alter_tests::stand_in::fixtures::{
    AUDIT_PATH, PROVIDER_ID, TOKEN_PATH, USER_TOKEN, bounded, vault_builder,
};
use alter_tests::stand_in::{Reply, StandIn};
use serde_json::json;

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

fn invalid_request_message(error: Error) -> String {
    match error {
        Error::InvalidRequest(message) => message,
        other => panic!("expected Error::InvalidRequest, got {other:?}"),
    }
}

impl Setup {
    /// Asserts that neither stand-in received anything, after any background post finished.
    async fn assert_nothing_sent(&self) {
        self.vault.flush().await;
        assert!(self.backend.received().is_empty(), "the backend was called");
        assert!(
            self.provider.received().is_empty(),
            "the provider was called"
        );
    }
}

#[tokio::test]
async fn plain_http_provider_rejected_before_backend() {
    let setup = setup().await;
    let cases = [
        ("http://api.example.com/user", "api.example.com"),
        ("http://example.com:443/user", "example.com"),
        ("http://10.1.2.3/v1/items", "10.1.2.3"),
        ("http://127.0.0.2/user", "127.0.0.2"),
        ("HTTP://API.EXAMPLE.COM/user", "api.example.com"),
    ];
    for (url, host) in cases {
        let error = bounded(
            setup
                .vault
                .request(Method::GET, url)
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
        .unwrap_err();
        let message = invalid_request_message(error);
        assert!(
            message.contains(&format!("the provider URL uses http for host `{host}`")),
            "{url}: {message}"
        );
        assert!(message.contains("use https"), "{url}: {message}");
    }
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn unsupported_provider_urls_rejected() {
    let setup = setup().await;
    let cases = [
        (
            "ftp://files.example.com/a",
            "scheme `ftp` is not supported: use https",
        ),
        ("file:///etc/passwd", "has no host"),
        ("/relative/path", "invalid provider URL `/relative/path`"),
        ("https://", "invalid provider URL"),
    ];
    for (url, expected) in cases {
        let error = bounded(
            setup
                .vault
                .request(Method::GET, url)
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
        .unwrap_err();
        let message = invalid_request_message(error);
        assert!(message.contains(expected), "{url}: {message}");
    }
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn https_provider_accepted() {
    let setup = setup().await;
    // The stand-in provider speaks plain http, so the TLS handshake fails after every local
    // check passed and the credential was fetched. No request reaches a public host.
    let url = format!("https://127.0.0.1:{}/user", setup.provider.port());
    let error = bounded(
        setup
            .vault
            .request(Method::GET, url.as_str())
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap_err();
    let Error::Network { target, .. } = &error else {
        panic!("expected Error::Network after the TLS handshake, got {error:?}");
    };
    assert_eq!(
        target,
        &format!("https://127.0.0.1:{}", setup.provider.port())
    );

    setup.vault.flush().await;
    let token_requests = setup.backend.received_at(TOKEN_PATH);
    assert_eq!(token_requests.len(), 1);
    assert_eq!(token_requests[0].json()["request"]["url"], url);
    let audit = setup.backend.received_at(AUDIT_PATH);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].json()["response_status"], 0);
    assert_eq!(
        audit[0].json()["response_body"],
        "<transport error: network>"
    );
    assert!(
        setup.provider.received().is_empty(),
        "a request was sent over plain http"
    );
}

#[tokio::test]
async fn loopback_http_provider_accepted() {
    let setup = setup().await;
    for url in [
        setup.provider.url_of("/user"),
        format!("http://localhost:{}/user", setup.provider.port()),
    ] {
        let response = bounded(
            setup
                .vault
                .request(Method::GET, url.as_str())
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "{url}");
    }
    assert_eq!(setup.backend.received_at(TOKEN_PATH).len(), 2);
    assert_eq!(setup.provider.received_at("/user").len(), 2);
}

#[tokio::test]
async fn unfilled_placeholder_named() {
    let setup = setup().await;
    let url = setup.provider.url_of("/repos/{owner}/{repo}");
    let error = bounded(
        setup
            .vault
            .request(Method::GET, url)
            .provider(PROVIDER_ID)
            .path_param("owner", "octocat")
            .send(),
    )
    .await
    .unwrap_err();
    let message = invalid_request_message(error);
    assert!(
        message.contains("the provider URL still contains the placeholder `{repo}`"),
        "{message}"
    );
    assert!(
        message.contains("pass a value for `repo` in the path parameters"),
        "{message}"
    );
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn stray_braces_rejected() {
    let setup = setup().await;
    for path in [
        "/repos/{owner/x",
        "/repos/owner}",
        "/repos/{}",
        "/repos/{1st}",
        "/a/{b-c}",
    ] {
        let error = bounded(
            setup
                .vault
                .request(Method::GET, setup.provider.url_of(path))
                .provider(PROVIDER_ID)
                .path_param("owner", "octocat")
                .send(),
        )
        .await
        .unwrap_err();
        let message = invalid_request_message(error);
        assert!(
            message.contains("that is not a `{name}` placeholder"),
            "{path}: {message}"
        );
        assert!(
            message.contains("percent-encode it as %7B or %7D"),
            "{path}: {message}"
        );
    }
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn invalid_path_param_name_rejected() {
    let setup = setup().await;
    let error = bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/repos/{owner}"))
            .provider(PROVIDER_ID)
            .path_param("owner", "octocat")
            .path_param("bad-name", "x")
            .send(),
    )
    .await
    .unwrap_err();
    let message = invalid_request_message(error);
    assert!(
        message.contains("invalid path parameter name \"bad-name\""),
        "{message}"
    );
    assert!(message.contains("use letters, digits and '_'"), "{message}");
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn path_param_with_slash_stays_one_segment() {
    let setup = setup().await;
    setup.provider.script(
        "/repos/octo%2Fcat/..%2F..%2Fadmin/issues",
        Reply::json(200, &json!({ "matched": true })),
    );
    let response = bounded(
        setup
            .vault
            .request(
                Method::GET,
                setup.provider.url_of("/repos/{owner}/{repo}/issues"),
            )
            .provider(PROVIDER_ID)
            .path_param("owner", "octo/cat")
            .path_param("repo", "../../admin")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(
        response.json::<serde_json::Value>().unwrap()["matched"],
        true
    );

    let received = setup.provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/repos/octo%2Fcat/..%2F..%2Fadmin/issues");
    let token_request = &setup.backend.received_at(TOKEN_PATH)[0];
    assert_eq!(
        token_request.json()["request"]["url"],
        setup
            .provider
            .url_of("/repos/octo%2Fcat/..%2F..%2Fadmin/issues")
    );
}

#[tokio::test]
async fn path_param_encodes_query_and_fragment() {
    let setup = setup().await;
    bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/search/{term}"))
            .provider(PROVIDER_ID)
            .path_param("term", "a b?c=d#e&f")
            .query("page", "2")
            .send(),
    )
    .await
    .unwrap();
    let received = setup.provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/search/a%20b%3Fc%3Dd%23e%26f");
    assert_eq!(received[0].query.as_deref(), Some("page=2"));
}

#[tokio::test]
async fn dot_segment_path_param_rejected() {
    let setup = setup().await;
    for value in ["..", "."] {
        let error = bounded(
            setup
                .vault
                .request(
                    Method::GET,
                    setup.provider.url_of("/repos/{owner}/{repo}/issues"),
                )
                .provider(PROVIDER_ID)
                .path_param("owner", "octocat")
                .path_param("repo", value)
                .send(),
        )
        .await
        .unwrap_err();
        let message = invalid_request_message(error);
        assert!(
            message.contains(&format!("the path parameter `repo` is `{value}`")),
            "{message}"
        );
        assert!(
            message.contains("pass the name of the resource instead"),
            "{message}"
        );
    }
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn dot_like_path_params_stay_one_segment() {
    let setup = setup().await;
    for (value, path) in [
        ("...", "/repos/octocat/.../issues"),
        ("%2e%2e", "/repos/octocat/%252e%252e/issues"),
        ("..%2F", "/repos/octocat/..%252F/issues"),
    ] {
        bounded(
            setup
                .vault
                .request(
                    Method::GET,
                    setup.provider.url_of("/repos/{owner}/{repo}/issues"),
                )
                .provider(PROVIDER_ID)
                .path_param("owner", "octocat")
                .path_param("repo", value)
                .send(),
        )
        .await
        .unwrap();
        let received = setup.provider.received();
        assert_eq!(received.last().unwrap().path, path, "{value:?}");
    }
}

#[tokio::test]
async fn invalid_caller_header_rejected_before_backend() {
    let setup = setup().await;
    let cases = [
        ("Bad Header", "x", "invalid header name `Bad Header`"),
        (
            "X-Note",
            "line\r\nX-Injected: 1",
            "the value of header `X-Note` is not a valid header value",
        ),
        ("", "x", "invalid header name ``"),
    ];
    for (name, value, expected) in cases {
        let error = bounded(
            setup
                .vault
                .request(Method::GET, setup.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .header(name, value)
                .send(),
        )
        .await
        .unwrap_err();
        let message = invalid_request_message(error);
        assert!(message.contains(expected), "{name:?}: {message}");
    }
    setup.assert_nothing_sent().await;
}

#[tokio::test]
async fn lower_case_method_upper_cased() {
    let setup = setup().await;
    let method = Method::from_bytes(b"patch").unwrap();
    bounded(
        setup
            .vault
            .request(method, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(setup.provider.received()[0].method, Method::PATCH);
    let token_request = &setup.backend.received_at(TOKEN_PATH)[0];
    assert_eq!(token_request.json()["request"]["method"], "PATCH");
}
