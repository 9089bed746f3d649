//! The quickstart app with an in-process DevVault, a registered client, and the authorization
//! request parameters.

use alter::axum::AlterAxum;
use alter::dev::{DevVault, DevVaultBuilder};
use alter_examples::quickstart::{AppState, app, mcp_auth};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The redirect URI the test client registers; nothing listens there, because the tests read
/// the `Location` header instead of following it.
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:3999/callback";
/// A PKCE verifier and its S256 challenge (the example of RFC 7636, appendix B).
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The quickstart app on `127.0.0.1:0` with its DevVault.
pub(crate) struct QuickstartApp {
    pub(crate) dev: DevVault,
    pub(crate) alter: AlterAxum,
    origin: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl QuickstartApp {
    /// Starts DevVault from `dev` and the quickstart app against it.
    pub(crate) async fn start(dev: DevVaultBuilder) -> Self {
        let dev = dev.start().await.expect("DevVault starts");
        let alter = AlterAxum::new(dev.api_key().expose_secret())
            .caller("quickstart-test")
            .base_url(dev.base_url())
            .build()
            .expect("the vault accepts DevVault's key");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let auth = mcp_auth(&alter, &format!("{origin}/mcp")).expect("the MCP URL is valid");
        let router = app(
            AppState {
                alter: alter.clone(),
                demo_api_url: dev.demo_api_url(),
            },
            &auth,
        );
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            dev,
            alter,
            origin,
            shutdown,
            task,
        }
    }

    /// Returns the absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Returns the MCP endpoint URL, which is also the issuer.
    pub(crate) fn mcp_url(&self) -> String {
        self.url("/mcp")
    }

    /// Registers a public client with [`REDIRECT_URI`] and returns its id.
    pub(crate) async fn register(&self) -> String {
        let response = client()
            .post(self.url("/register"))
            .json(&json!({
                "client_name": "flow-test",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["client_id"].as_str().unwrap().to_owned()
    }

    /// Returns the `/authorize` URL for `client_id` with valid parameters, changed by
    /// `overrides` (a `None` value drops the parameter).
    pub(crate) fn authorize_url(
        &self,
        client_id: &str,
        overrides: &[(&str, Option<&str>)],
    ) -> String {
        let resource = self.mcp_url();
        let mut parameters: Vec<(&str, Option<&str>)> = vec![
            ("response_type", Some("code")),
            ("client_id", Some(client_id)),
            ("redirect_uri", Some(REDIRECT_URI)),
            ("code_challenge", Some(CHALLENGE)),
            ("code_challenge_method", Some("S256")),
            ("state", Some("state-123")),
            ("scope", Some("mcp")),
            ("resource", Some(&resource)),
        ];
        for (name, value) in overrides {
            match parameters.iter_mut().find(|(existing, _)| existing == name) {
                Some(slot) => slot.1 = *value,
                None => parameters.push((name, *value)),
            }
        }
        let mut url = url::Url::parse(&self.url("/authorize")).unwrap();
        for (name, value) in parameters {
            if let Some(value) = value {
                url.query_pairs_mut().append_pair(name, value);
            }
        }
        url.into()
    }

    /// Exchanges `code` at the token endpoint with [`VERIFIER`], for the resource at the MCP
    /// URL, and returns the response.
    pub(crate) async fn exchange_code(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
    ) -> reqwest::Response {
        let resource = self.mcp_url();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
            ("resource", resource.as_str()),
        ];
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        client()
            .post(self.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Stops the app and DevVault.
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.unwrap().unwrap();
        self.alter.shutdown().await;
        self.dev.shutdown().await;
    }
}

/// Builds a client that never follows redirects, so tests see every `Location`.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Returns the `Location` header of a response.
pub(crate) fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
}

/// Returns the query parameter `name` of `url`.
pub(crate) fn query_parameter(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
