//! The sign-in bridge page in a real browser. Headless Chromium opens `/authorize`, the user
//! signs in on DevVault's page, and the browser must arrive at the client's redirect URI with a
//! code that the token endpoint accepts: once through the page's script, once with scripts
//! turned off.
//!
//! Chromium is required: `.ci/run` installs Debian's `chromium` package. Every process and
//! socket stays on `127.0.0.1`, and the flags below turn off Chromium's own background traffic.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::bridge::{sign_in_on_page, sign_in_page};
use crate::quickstart_app::{QuickstartApp, client, query_parameter};

/// How long the browser may take for one step: loading the bridge page, or reaching the
/// redirect URI after the sign-in. The page polls every two seconds and reloads every three
/// without scripts, so this leaves room for a loaded machine.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A headless Chromium with its own profile folder and a DevTools endpoint on loopback.
struct Browser {
    process: Child,
    profile: PathBuf,
    devtools: Option<String>,
}

impl Browser {
    /// Starts Chromium on `url`, with scripts turned on or off.
    fn launch(url: &str, scripts: bool) -> Self {
        let profile = std::env::temp_dir().join(format!("alter-browser-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).unwrap();
        let mut command = Command::new(chromium());
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()));
        if !scripts {
            command.arg("--blink-settings=scriptEnabled=false");
        }
        let process = command
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("failed to start chromium");
        Self {
            process,
            profile,
            devtools: None,
        }
    }

    /// Returns the browser's open pages as `(url, title)` pairs, read from its DevTools list.
    async fn pages(&mut self) -> Vec<(String, String)> {
        if self.devtools.is_none() {
            // Chromium writes the port it picked to this file once DevTools is listening.
            let Ok(active) = std::fs::read_to_string(self.profile.join("DevToolsActivePort"))
            else {
                return Vec::new();
            };
            let Some(port) = active.lines().next().filter(|port| !port.is_empty()) else {
                return Vec::new();
            };
            self.devtools = Some(format!("http://127.0.0.1:{port}/json/list"));
        }
        let list = self.devtools.as_deref().unwrap();
        let Ok(response) = client().get(list).send().await else {
            return Vec::new();
        };
        let targets: Vec<Value> = response.json().await.unwrap_or_default();
        targets
            .iter()
            .filter(|target| target["type"] == "page")
            .map(|target| {
                let url = target["url"].as_str().unwrap_or_default().to_owned();
                let title = target["title"].as_str().unwrap_or_default().to_owned();
                (url, title)
            })
            .collect()
    }

    /// Waits until a page whose URL starts with `prefix` has finished loading, and returns
    /// its URL.
    async fn wait_for_page(&mut self, prefix: &str) -> String {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let pages = self.pages().await;
            // The title is set once the document's head has been parsed.
            let loaded = pages
                .into_iter()
                .find(|(url, title)| url.starts_with(prefix) && title == "Sign in");
            if let Some((url, _)) = loaded {
                return url;
            }
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!("chromium exited with {status} before loading {prefix}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium did not load {prefix} within {STEP_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops Chromium and waits for it to exit, so that its folders can be removed.
    async fn close(mut self) {
        self.process.kill().await.unwrap();
    }

    /// Removes the folder that contains Chromium's singleton socket, outside the profile.
    ///
    /// Chromium creates it under the system temp folder and removes it only on a clean exit,
    /// so a killed browser leaves it behind. The profile's `SingletonSocket` link names it.
    fn remove_singleton_folder(&self) {
        let Ok(socket) = std::fs::read_link(self.profile.join("SingletonSocket")) else {
            return;
        };
        let Some(folder) = socket.parent() else {
            return;
        };
        let is_chromium_folder = folder
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("org.chromium."));
        if is_chromium_folder {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test drops the browser without `close`: stop it here too.
        let _ = self.process.start_kill();
        self.remove_singleton_folder();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Returns the Chromium executable: `ALTER_TEST_CHROMIUM` when set, else the first of the
/// usual names found on `PATH`.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("ALTER_TEST_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |folder| folder.join(name)))
        .find(|candidate| candidate.is_file())
        .expect(
            "Chromium not found on PATH: install Debian's chromium package, \
             or set ALTER_TEST_CHROMIUM to a Chromium or Chrome executable",
        )
}

/// Starts a client's redirect endpoint on loopback. Returns its URL and the queries it receives.
async fn redirect_endpoint() -> (String, mpsc::UnboundedReceiver<String>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let router =
        Router::new()
            .route(
                "/callback",
                get(
                    |State(sender): State<mpsc::UnboundedSender<String>>,
                     RawQuery(query): RawQuery| async move {
                        let _ = sender.send(query.unwrap_or_default());
                        "You can close this window."
                    },
                ),
            )
            .with_state(sender);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/callback"), receiver)
}

/// Runs the whole authorization in Chromium and checks the code it delivers.
async fn sign_in_in_browser(scripts: bool) {
    let app = QuickstartApp::start(sign_in_page()).await;
    let (redirect_uri, mut arrivals) = redirect_endpoint().await;
    let client_id = app.register().await;
    let authorize = app.authorize_url(
        &client_id,
        &[
            ("redirect_uri", Some(&redirect_uri)),
            ("state", Some("browser-state")),
        ],
    );
    let mut browser = Browser::launch(&authorize, scripts);

    let bridge = browser
        .wait_for_page(&app.url("/auth-bridge?pending="))
        .await;
    // The user signs in on DevVault's page in another window.
    sign_in_on_page(&bridge, "alice").await;

    let query = tokio::time::timeout(STEP_TIMEOUT, arrivals.recv())
        .await
        .expect("the browser did not reach the redirect URI in time")
        .unwrap();
    let arrival = format!("{redirect_uri}?{query}");
    assert_eq!(
        query_parameter(&arrival, "state").as_deref(),
        Some("browser-state")
    );
    assert_eq!(query_parameter(&arrival, "iss"), Some(app.mcp_url()));
    let code = query_parameter(&arrival, "code").expect("a code on the redirect");
    browser.close().await;

    let exchange = app.exchange_code(&client_id, &code, &redirect_uri).await;
    assert_eq!(exchange.status(), StatusCode::OK);
    let tokens: Value = exchange.json().await.unwrap();
    assert!(tokens["access_token"].is_string(), "{tokens}");
    app.stop().await;
}

#[tokio::test]
async fn browser_signs_in_with_scripts() {
    sign_in_in_browser(true).await;
}

#[tokio::test]
async fn browser_signs_in_without_scripts() {
    sign_in_in_browser(false).await;
}
