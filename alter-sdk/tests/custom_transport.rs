//! A vault built with `VaultBuilder::transport` sends everything through that transport.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alter::vault::transport::{HttpTransport, SendFuture, TransportError};
use alter::{Error, Method, Vault};
use bytes::Bytes;

const API_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";
const TOKEN_RESPONSE: &str = r#"{"access_token":"in-process-token","token_type":"Bearer","expires_in":3599,"scopes":["profile"],"grant_id":"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f","provider_id":"demo","token_generation":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a","injection_header":"Authorization","injection_format":"Bearer {token}"}"#;

/// Records every request, responds to backend requests from memory, and times out provider
/// calls when `provider_times_out` is set.
#[derive(Default)]
struct InProcess {
    requests: Mutex<Vec<http::Request<Bytes>>>,
    provider_times_out: bool,
}

impl HttpTransport for InProcess {
    fn send(&self, request: http::Request<Bytes>, _timeout: Duration) -> SendFuture<'_> {
        let path = request.uri().path().to_owned();
        let is_backend = request.uri().host() == Some("backend.alterauth.com");
        self.requests.lock().unwrap().push(request);
        Box::pin(async move {
            let body = match (is_backend, path.as_str()) {
                (true, "/sdk/token") => TOKEN_RESPONSE,
                (true, _) => "{}",
                (false, _) if self.provider_times_out => return Err(TransportError::Timeout),
                (false, _) => r#"{"user":"alice"}"#,
            };
            Ok(http::Response::new(Bytes::from_static(body.as_bytes())))
        })
    }
}

fn vault(transport: &Arc<InProcess>) -> Vault {
    Vault::builder(API_KEY)
        .base_url("https://backend.alterauth.com")
        .transport(Arc::clone(transport) as Arc<dyn HttpTransport>)
        .build()
        .unwrap()
        .with_user_token("eyJ.user.token")
}

#[tokio::test]
async fn request_goes_through_transport() {
    let transport = Arc::new(InProcess::default());
    let vault = vault(&transport);

    let response = vault
        .request(Method::GET, "https://api.demo.example/me")
        .provider("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<serde_json::Value>().unwrap()["user"],
        "alice"
    );
    vault.flush().await;

    let requests = transport.requests.lock().unwrap();
    let uris: Vec<String> = requests.iter().map(|r| r.uri().to_string()).collect();
    assert_eq!(
        uris,
        [
            "https://backend.alterauth.com/sdk/token",
            "https://api.demo.example/me",
            "https://backend.alterauth.com/sdk/oauth/audit/api-call",
        ]
    );
    let authorization = requests[1].headers().get("authorization").unwrap();
    assert_eq!(authorization, "Bearer in-process-token");
    assert!(requests[0].headers().contains_key("x-alter-signature"));
}

#[tokio::test]
async fn transport_timeout_becomes_error() {
    let transport = Arc::new(InProcess {
        provider_times_out: true,
        ..InProcess::default()
    });
    let vault = vault(&transport);

    let error = vault
        .request(Method::GET, "https://api.demo.example/me")
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    vault.flush().await;
    let audited = transport
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.uri().path() == "/sdk/oauth/audit/api-call");
    assert!(audited, "the timed-out call still gets an audit row");
}
