//! Vault configuration: malformed or mistyped API keys and unsafe base URLs fail at build time
//! with a typed error that names the problem and never repeats the key.
//!
//! `ALTER_BASE_URL` is read when the vault is built. Changing the environment of a running test
//! needs `unsafe`, so those tests run this binary again as a child process with the variable
//! set, and the child runs the ignored test `base_url_env_child`.

use alter::protocol::api_key::checksum;
use alter::{Error, Method, Vault};
use alter_tests::stand_in::StandIn;
use alter_tests::stand_in::fixtures::{
    API_KEY_RANDOM, PROVIDER_ID, TOKEN_PATH, USER_TOKEN, api_key, bounded, vault_builder,
};

/// The environment variable that selects the child's check. A normal run does not set it.
const CHILD_MODE: &str = "ALTER_TESTS_CHILD_MODE";
/// The text the child expects in the error message, or the provider URL it calls.
const CHILD_ARGUMENT: &str = "ALTER_TESTS_CHILD_ARGUMENT";

const BASE32: &str = "abcdefghijklmnopqrstuvwxyz234567";
const FORMAT_HINT: &str = "expected `alter_<rk|ak|dk|pk>_<22 base32 characters>_<6-character checksum>` or a legacy `alter_key_` key";

fn config_message(error: Error) -> String {
    match error {
        Error::Config(message) => message,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_keys_rejected_without_echo() {
    let backend = StandIn::backend().await;
    let valid = api_key();
    let cases = [
        (String::new(), "the key is empty"),
        ("not-an-api-key".to_owned(), "does not have the form"),
        (
            format!("alter_xk_{API_KEY_RANDOM}_aaaaaa"),
            "the key type is not rk, ak, dk or pk",
        ),
        (
            format!("alter_rk_{}_aaaaaa", API_KEY_RANDOM.to_uppercase()),
            "22 lower-case base32 characters",
        ),
        (
            format!("alter_rk_{}_aaaaaa", &API_KEY_RANDOM[..21]),
            "22 lower-case base32 characters",
        ),
        (
            format!("alter_rk_{API_KEY_RANDOM}_aaa"),
            "the checksum must be 6 lower-case base32 characters",
        ),
        (format!("{valid}\n"), "starts or ends with whitespace"),
        (format!(" {valid}"), "starts or ends with whitespace"),
        ("alter_key_tooShort".to_owned(), "exactly 40 characters"),
    ];

    for (key, problem) in cases {
        let error = Vault::builder(key.as_str())
            .base_url(backend.url())
            .build()
            .unwrap_err();
        let debug = format!("{error:?}");
        let message = config_message(error);
        assert!(message.contains(problem), "{key:?}: {message}");
        assert!(message.contains(FORMAT_HINT), "{key:?}: {message}");
        assert!(!message.contains(API_KEY_RANDOM), "{key:?}: {message}");
        assert!(!debug.contains(API_KEY_RANDOM), "{key:?}: {debug}");
        if !key.trim().is_empty() {
            assert!(!message.contains(key.trim()), "{key:?}: {message}");
        }
    }
    assert!(backend.received().is_empty());
}

#[tokio::test]
async fn every_one_character_typo_rejected() {
    let backend = StandIn::backend().await;
    let valid = api_key();
    let mut typos = Vec::new();
    for (index, original) in valid.char_indices().skip("alter_rk_".len()) {
        if original == '_' {
            continue;
        }
        for replacement in BASE32.chars().filter(|&c| c != original) {
            let mut typo = valid.clone();
            typo.replace_range(index..index + 1, &replacement.to_string());
            typos.push(typo);
        }
    }
    for kind in ["ak", "dk", "pk"] {
        typos.push(valid.replacen("rk", kind, 1));
    }
    assert_eq!(typos.len(), 28 * 31 + 3);

    for typo in &typos {
        let error = Vault::builder(typo.as_str())
            .base_url(backend.url())
            .build()
            .unwrap_err();
        let debug = format!("{error:?}");
        let message = config_message(error);
        assert!(
            message.contains("the checksum does not match, so a character was probably mistyped"),
            "{typo}: {message}"
        );
        assert!(message.contains(FORMAT_HINT), "{typo}: {message}");
        for secret in [typo.as_str(), valid.as_str(), &typo[9..31], API_KEY_RANDOM] {
            assert!(!message.contains(secret), "{typo}: {message}");
            assert!(!debug.contains(secret), "{typo}: {debug}");
        }
    }
    assert!(backend.received().is_empty());
}

#[test]
fn valid_key_checksum_accepted() {
    let valid = format!(
        "alter_rk_{API_KEY_RANDOM}_{}",
        checksum("rk", API_KEY_RANDOM)
    );
    assert_eq!(valid, api_key());
    assert!(
        Vault::builder(valid)
            .base_url("https://backend.alterauth.com")
            .build()
            .is_ok()
    );
}

#[test]
fn plain_http_base_url_rejected() {
    let cases = [
        ("http://example.com", "example.com"),
        ("http://10.1.2.3", "10.1.2.3"),
        ("http://10.1.2.3:8080/prefix", "10.1.2.3"),
        ("http://backend.alterauth.com", "backend.alterauth.com"),
        ("http://127.0.0.2:9000", "127.0.0.2"),
    ];
    for (url, host) in cases {
        let message = config_message(Vault::builder(api_key()).base_url(url).build().unwrap_err());
        assert!(
            message.contains(&format!("invalid base URL `{url}`")),
            "{message}"
        );
        assert!(message.contains("it must use https"), "{message}");
        assert!(
            message.contains("plain http is allowed only for localhost, 127.0.0.1 and [::1]"),
            "{message}"
        );
        assert!(message.contains(&format!("not `{host}`")), "{message}");
    }
}

#[tokio::test]
async fn loopback_http_base_url_accepted() {
    let backend = StandIn::backend().await;
    let provider = StandIn::provider().await;
    for base_url in [backend.url(), format!("{}/", backend.url())] {
        let vault = Vault::builder(api_key())
            .base_url(base_url.as_str())
            .build()
            .unwrap();
        assert_eq!(vault.base_url(), backend.url(), "{base_url}");

        let response = bounded(
            vault
                .request(Method::GET, provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .user_token(USER_TOKEN)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        vault.flush().await;
    }
    assert_eq!(backend.received_at(TOKEN_PATH).len(), 2);
    assert_eq!(provider.received_at("/user").len(), 2);
}

/// Runs `base_url_env_child` in a child process with `env` set and returns its output, after
/// checking that the child ran exactly that one test and it passed.
async fn run_child(env: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "base_url_env_child",
            "--test-threads=1",
        ])
        .env_remove("ALTER_BASE_URL")
        .env_remove("ALTER_API_KEY")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let output = bounded(command.output()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child did not run its test\nstdout:\n{stdout}"
    );
    stdout
}

#[tokio::test]
async fn base_url_env_read_at_build() {
    let backend = StandIn::backend().await;
    let provider = StandIn::provider().await;
    let provider_url = provider.url_of("/user");
    run_child(&[
        ("ALTER_BASE_URL", &backend.url()),
        (CHILD_MODE, "request"),
        (CHILD_ARGUMENT, &provider_url),
    ])
    .await;

    let token_requests = backend.received_at(TOKEN_PATH);
    assert_eq!(token_requests.len(), 1);
    assert_eq!(token_requests[0].json()["request"]["url"], provider_url);
    assert_eq!(provider.received_at("/user").len(), 1);
}

#[tokio::test]
async fn base_url_env_empty_rejected() {
    run_child(&[
        ("ALTER_BASE_URL", ""),
        (CHILD_MODE, "build_error"),
        (
            CHILD_ARGUMENT,
            "invalid base URL ``: it is empty; unset ALTER_BASE_URL to use the hosted backend",
        ),
    ])
    .await;
}

#[tokio::test]
async fn base_url_env_plain_http_rejected() {
    for url in ["http://example.com", "http://10.1.2.3"] {
        run_child(&[
            ("ALTER_BASE_URL", url),
            (CHILD_MODE, "build_error"),
            (CHILD_ARGUMENT, "it must use https"),
        ])
        .await;
    }
}

#[tokio::test]
async fn base_url_env_ignored_when_set_explicitly() {
    run_child(&[
        ("ALTER_BASE_URL", "http://example.com"),
        (CHILD_MODE, "explicit_base_url"),
    ])
    .await;
}

#[tokio::test]
async fn from_env_without_api_key_rejected() {
    run_child(&[
        (CHILD_MODE, "from_env_error"),
        (
            CHILD_ARGUMENT,
            "ALTER_API_KEY is not set; export the API key from the Alter dashboard",
        ),
    ])
    .await;
}

#[tokio::test]
async fn from_env_with_typo_rejected_without_echo() {
    let typo = api_key().replacen("leak", "laek", 1);
    run_child(&[
        ("ALTER_API_KEY", &typo),
        (CHILD_MODE, "from_env_error"),
        (CHILD_ARGUMENT, "the checksum does not match"),
    ])
    .await;
}

/// Runs the child side of the `ALTER_BASE_URL` tests. It does nothing unless a parent set
/// `ALTER_TESTS_CHILD_MODE`.
#[tokio::test]
#[ignore = "run in a child process by the ALTER_BASE_URL tests"]
async fn base_url_env_child() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let argument = std::env::var(CHILD_ARGUMENT).unwrap_or_default();
    match mode.as_str() {
        "request" => {
            let vault = Vault::builder(api_key()).build().unwrap();
            let base_url = std::env::var("ALTER_BASE_URL").unwrap();
            assert_eq!(vault.base_url(), base_url);
            let response = bounded(
                vault
                    .request(Method::GET, argument)
                    .provider(PROVIDER_ID)
                    .user_token(USER_TOKEN)
                    .send(),
            )
            .await
            .unwrap();
            assert_eq!(response.status(), 200);
            vault.flush().await;
        }
        "build_error" => {
            let message = config_message(Vault::builder(api_key()).build().unwrap_err());
            assert!(message.contains(&argument), "{message}");
        }
        "explicit_base_url" => {
            let vault = Vault::builder(api_key())
                .base_url("http://127.0.0.1:9")
                .build()
                .unwrap();
            assert_eq!(vault.base_url(), "http://127.0.0.1:9");
        }
        "from_env_error" => {
            let error = Vault::from_env().unwrap_err();
            let debug = format!("{error:?}");
            let message = config_message(error);
            assert!(message.contains(&argument), "{message}");
            assert!(!message.contains(API_KEY_RANDOM), "{message}");
            assert!(!message.contains("laekcanary"), "{message}");
            assert!(!debug.contains("laekcanary"), "{debug}");
        }
        other => panic!("unknown child mode {other:?}"),
    }
}

#[tokio::test]
async fn config_errors_reported_together() {
    let backend = StandIn::backend().await;
    let message = config_message(
        vault_builder(&backend)
            .base_url("http://example.com")
            .caller("")
            .timeout(std::time::Duration::ZERO)
            .build()
            .unwrap_err(),
    );
    for expected in [
        "it must use https",
        "the caller must be 1 to 255 characters",
        "the timeout must be greater than zero",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in {message}"
        );
    }
}
