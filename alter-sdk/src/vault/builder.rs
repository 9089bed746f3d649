//! Building a [`Vault`]: API key, principal kind, caller, base URL, timeout.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::protocol::api_key::{ApiKey, KeyType};
use crate::protocol::base_url::{BASE_URL_ENV, BaseUrl, DEFAULT_BASE_URL};

use super::backend::Backend;
#[cfg(test)]
use super::backend::FixedSigning;
use super::retry::{MAX_INITIAL_BACKOFF, MAX_RETRIES_LIMIT, TokenRetry};
use super::transport::{HttpTransport, ReqwestTransport};
use super::{CallerType, PrincipalKind, UserScope, Vault, VaultInner};

/// Default timeout for each backend and provider request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const MAX_CALLER_LEN: usize = 255;

/// The maximum size of a backend response body, in bytes. The largest protocol responses (a token
/// response with every additional credential, a connect poll listing grants) stay far below
/// 1 MiB, so this only stops a broken or hostile backend from filling memory.
const MAX_BACKEND_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Builder for [`Vault`], created by [`Vault::builder`].
///
/// Every setter takes and returns the builder; [`VaultBuilder::build`] validates everything at
/// once and reports all problems in one error. `Debug` leaves out the API key.
#[must_use]
pub struct VaultBuilder {
    api_key: String,
    kind: Option<PrincipalKind>,
    caller: Option<String>,
    caller_type: Option<CallerType>,
    base_url: Option<String>,
    timeout: Duration,
    user_scope: UserScope,
    token_retry: TokenRetry,
    transport: Option<Arc<dyn HttpTransport>>,
}

impl VaultBuilder {
    pub(crate) fn new(api_key: String) -> Self {
        Self {
            api_key,
            kind: None,
            caller: None,
            caller_type: None,
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            user_scope: UserScope::Required,
            token_retry: TokenRetry::default(),
            transport: None,
        }
    }

    /// Sets whether the key belongs to an application or a managed agent.
    ///
    /// Required unless the key's prefix identifies the holder: `alter_rk_` keys belong to applications and
    /// `alter_ak_` keys to agents. Legacy, derived and publishable keys do not say, and the
    /// builder does not guess.
    pub fn kind(mut self, kind: PrincipalKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Names the calling service or agent, sent as `X-Alter-Caller` and bound into every
    /// signature. Printable ASCII, 1 to 255 characters.
    pub fn caller(mut self, caller: impl Into<String>) -> Self {
        self.caller = Some(caller.into());
        self
    }

    /// Sets `X-Alter-Caller-Type`. Applications default to [`CallerType::Service`] and may choose
    /// [`CallerType::Agent`]; agents are always [`CallerType::Agent`].
    pub fn caller_type(mut self, caller_type: CallerType) -> Self {
        self.caller_type = Some(caller_type);
        self
    }

    /// Sets the backend base URL. Without it, `ALTER_BASE_URL` is read once here, and without
    /// that the hosted backend `https://backend.alterauth.com` is used.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Sets the timeout of each backend and provider request (connect, read and write).
    /// Defaults to 30 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many times a credential request is retried while the backend is refreshing the
    /// grant's provider token (HTTP 409 `token_refresh_in_progress`). Defaults to 3, at most
    /// 10; 0 returns [`Error::TokenRefreshInProgress`] at once.
    pub fn token_refresh_retries(mut self, retries: u32) -> Self {
        self.token_retry.max_retries = retries;
        self
    }

    /// Sets the delay before the first token-refresh retry. Each later retry waits twice as
    /// long as the one before, up to eight times this delay, with the upper half of each
    /// delay randomized. Defaults to 250 milliseconds, at most 10 seconds.
    pub fn token_refresh_backoff(mut self, initial: Duration) -> Self {
        self.token_retry.initial_backoff = initial;
        self
    }

    /// Makes calls without an end-user token run with the application's own authority instead
    /// of failing with [`Error::MissingUserToken`].
    ///
    /// Use it for background jobs that act for the application, or that name the user with
    /// `app_user_id`. Without it, every credential request and connect session needs a user
    /// token, from [`Vault::with_user_token`], the current [`identity scope`], or the call
    /// itself, and a call that has none fails instead of silently using app scope.
    ///
    /// [`identity scope`]: crate::identity::scope
    pub fn app_scoped(mut self) -> Self {
        self.user_scope = UserScope::AppAllowed;
        self
    }

    /// Sends every backend and provider request through `transport` instead of the built-in
    /// pooled `reqwest` clients.
    ///
    /// This is for tests and benchmarks that respond to requests in process, without sockets. The
    /// built-in clients never follow redirects and read at most 8 MiB of a backend response;
    /// with a custom transport, both rules are the transport's job.
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Validates the configuration and builds the vault.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] listing every invalid setting: a malformed API key or checksum,
    /// a kind that cannot be inferred, an invalid caller, a caller type an agent cannot have, an
    /// invalid base URL (including an invalid `ALTER_BASE_URL`), or a zero timeout.
    pub fn build(self) -> Result<Vault, Error> {
        let mut problems = Vec::new();

        let api_key = ApiKey::parse(&self.api_key)
            .map_err(|e| problems.push(config_message(e)))
            .ok();
        let kind = self
            .kind
            .or_else(|| api_key.as_ref().and_then(|key| infer_kind(key.key_type())));
        if kind.is_none() && api_key.is_some() {
            problems.push(
                "cannot tell whether this key belongs to an app or an agent; set `.kind(PrincipalKind::App)` or `.kind(PrincipalKind::Agent)`".to_owned(),
            );
        }

        if let Some(Err(problem)) = self.caller.as_deref().map(validate_caller) {
            problems.push(problem);
        }
        let caller_type = match (kind, self.caller_type) {
            (Some(PrincipalKind::Agent), Some(CallerType::Service)) => {
                problems.push("an agent's caller type is always `agent`, not `service`".to_owned());
                CallerType::Agent
            }
            (_, Some(explicit)) => explicit,
            (Some(PrincipalKind::Agent), None) => CallerType::Agent,
            (_, None) => CallerType::Service,
        };

        let base_url = match self.base_url {
            Some(raw) => Some(raw),
            None => read_base_url_env().unwrap_or_else(|problem| {
                problems.push(problem);
                None
            }),
        };
        let base_url = BaseUrl::parse(base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))
            .map_err(|e| problems.push(config_message(e)))
            .ok();
        if self.timeout.is_zero() {
            problems.push("the timeout must be greater than zero".to_owned());
        }
        if self.token_retry.max_retries > MAX_RETRIES_LIMIT {
            problems.push(format!(
                "token refresh retries must be at most {MAX_RETRIES_LIMIT}, got {}",
                self.token_retry.max_retries
            ));
        }
        if self.token_retry.initial_backoff > MAX_INITIAL_BACKOFF {
            problems.push(format!(
                "the token refresh backoff must be at most {} seconds, got {:?}",
                MAX_INITIAL_BACKOFF.as_secs(),
                self.token_retry.initial_backoff
            ));
        }

        let (Some(api_key), Some(kind), Some(base_url), true) =
            (api_key, kind, base_url, problems.is_empty())
        else {
            return Err(Error::config(problems.join("; ")));
        };
        if base_url.is_plain_http() {
            tracing::warn!(
                target: "alter::vault",
                base_url = base_url.as_str(),
                "using plain http for the backend; only acceptable for a local development backend"
            );
        }

        let (backend_transport, provider_transport) = match self.transport {
            Some(transport) => (Arc::clone(&transport), transport),
            None => reqwest_transports(self.timeout)?,
        };
        let backend = Backend::new(
            backend_transport,
            api_key,
            base_url,
            self.caller,
            caller_type,
            self.timeout,
        )?;
        let inner = VaultInner::new(
            backend,
            provider_transport,
            kind,
            self.user_scope,
            self.timeout,
            self.token_retry,
        );
        Ok(Vault {
            inner: Arc::new(inner),
            user: None,
        })
    }

    /// Builds a vault whose HTTP goes through the given transports and whose signatures use
    /// fixed inputs.
    #[cfg(test)]
    pub(crate) fn build_with(
        self,
        backend: Arc<dyn HttpTransport>,
        provider: Arc<dyn HttpTransport>,
        fixed: FixedSigning,
    ) -> Vault {
        let vault = self.build().expect("test configuration is valid");
        let reference = &vault.inner;
        let mut backend_client = Backend::new(
            backend,
            reference.backend().api_key().clone(),
            reference.backend().base_url().clone(),
            reference.backend().caller().map(str::to_owned),
            reference.backend().caller_type(),
            reference.backend().timeout(),
        )
        .expect("test configuration is valid");
        backend_client.fixed_signing = Some(fixed);
        let inner = VaultInner::new(
            backend_client,
            provider,
            reference.kind,
            reference.user_scope,
            reference.timeout,
            reference.token_retry,
        );
        Vault {
            inner: Arc::new(inner),
            user: None,
        }
    }
}

impl fmt::Debug for VaultBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultBuilder")
            .field("api_key", &"<redacted>")
            .field("kind", &self.kind)
            .field("caller", &self.caller)
            .field("caller_type", &self.caller_type)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("user_scope", &self.user_scope)
            .finish()
    }
}

/// A transport shared by the vault and its clones.
type SharedTransport = Arc<dyn HttpTransport>;

/// Builds the pooled backend and provider clients.
fn reqwest_transports(timeout: Duration) -> Result<(SharedTransport, SharedTransport), Error> {
    let client_error =
        |e: reqwest::Error| Error::config(format!("failed to build an HTTP client: {e}"));
    let backend =
        ReqwestTransport::new(timeout, Some(MAX_BACKEND_BODY_BYTES)).map_err(client_error)?;
    // NOTE: provider bodies are read whole at any length, because `Response` hands the
    // caller the buffered body. A provider that sends gigabytes fills memory until the
    // timeout ends the read.
    let provider = ReqwestTransport::new(timeout, None).map_err(client_error)?;
    Ok((Arc::new(backend), Arc::new(provider)))
}

fn infer_kind(key_type: KeyType) -> Option<PrincipalKind> {
    match key_type {
        KeyType::Runtime => Some(PrincipalKind::App),
        KeyType::Agent => Some(PrincipalKind::Agent),
        _ => None,
    }
}

/// Checks the caller rules: printable ASCII (0x20 to 0x7E), 1 to 255 characters.
pub(crate) fn validate_caller(caller: &str) -> Result<(), String> {
    if caller.is_empty() || caller.len() > MAX_CALLER_LEN {
        return Err(format!(
            "the caller must be 1 to {MAX_CALLER_LEN} characters, got {}",
            caller.len()
        ));
    }
    if let Some(bad) = caller.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "the caller may contain only printable ASCII, found {bad:?}"
        ));
    }
    Ok(())
}

fn read_base_url_env() -> Result<Option<String>, String> {
    match std::env::var(BASE_URL_ENV) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{BASE_URL_ENV} is not valid UTF-8")),
    }
}

fn config_message(error: Error) -> String {
    match error {
        Error::Config(message) => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";
    const AGENT_KEY: &str = "alter_ak_a2b3c4d5e6f7g2h3i4j5k6_nis3d2";
    const LEGACY_KEY: &str = "alter_key_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_";

    fn builder(key: &str) -> VaultBuilder {
        Vault::builder(key).base_url("https://backend.alterauth.com")
    }

    #[test]
    fn kind_inferred_from_prefix() {
        assert_eq!(builder(APP_KEY).build().unwrap().kind(), PrincipalKind::App);
        assert_eq!(
            builder(AGENT_KEY).build().unwrap().kind(),
            PrincipalKind::Agent
        );
    }

    #[test]
    fn legacy_key_needs_explicit_kind() {
        let message = builder(LEGACY_KEY).build().unwrap_err().to_string();
        assert!(message.contains("set `.kind("), "{message}");
        let vault = builder(LEGACY_KEY)
            .kind(PrincipalKind::Agent)
            .build()
            .unwrap();
        assert_eq!(vault.kind(), PrincipalKind::Agent);
    }

    #[test]
    fn malformed_key_is_rejected_without_echo() {
        let message = builder("alter_rk_abcdefghijklmnopqrstuv_iwpykm")
            .build()
            .unwrap_err()
            .to_string();
        assert!(message.contains("checksum does not match"), "{message}");
        assert!(!message.contains("abcdefghijklmnopqrstuv"), "{message}");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let message = Vault::builder(LEGACY_KEY)
            .caller("bad\ncaller")
            .base_url("http://example.com")
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err()
            .to_string();
        for expected in [
            "set `.kind(",
            "printable ASCII",
            "must use https",
            "greater than zero",
        ] {
            assert!(
                message.contains(expected),
                "missing {expected:?} in {message}"
            );
        }
    }

    #[test]
    fn agent_cannot_be_service() {
        let message = builder(AGENT_KEY)
            .caller_type(CallerType::Service)
            .build()
            .unwrap_err()
            .to_string();
        assert!(message.contains("always `agent`"), "{message}");
    }

    #[test]
    fn debug_redacts_api_key() {
        let debug = format!("{:?}", builder(APP_KEY).caller("billing-cron"));
        assert!(!debug.contains("abcdefghijklmnopqrstuv"), "{debug}");
        assert!(debug.contains("api_key: \"<redacted>\""), "{debug}");
        assert!(debug.contains("billing-cron"), "{debug}");
    }

    #[test]
    fn caller_rules() {
        assert!(validate_caller("billing-cron").is_ok());
        assert!(validate_caller("").is_err());
        assert!(validate_caller(&"x".repeat(256)).is_err());
        assert!(validate_caller("caf\u{e9}").is_err());
        assert!(validate_caller("tab\there").is_err());
    }
}
