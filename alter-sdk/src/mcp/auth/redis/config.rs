//! The store's configuration and its connection to Redis.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, IntoConnectionInfo};

use super::crypto::{EncryptionKey, Sealer};
use super::keys::Keys;
use super::outage::Outage;
use super::scripts::Scripts;
use super::{Inner, RedisStore};
use crate::error::{Error, Result};
use crate::mcp::auth::store::StoreLimits;

/// The key prefix unless [`RedisStoreBuilder::prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "alter:mcp-auth:";

/// How long one store operation may wait for Redis unless
/// [`RedisStoreBuilder::command_timeout`] sets another.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The oldest Redis the scripts run on: they use `EXPIRETIME`, added in Redis 7.0.
const MIN_REDIS_MAJOR: u64 = 7;

/// Configures and connects a [`RedisStore`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `connect` is awaited"]
pub struct RedisStoreBuilder {
    url: String,
    key: EncryptionKey,
    prefix: String,
    command_timeout: Duration,
    limits: StoreLimits,
}

impl RedisStoreBuilder {
    pub(super) fn new(url: String, key: EncryptionKey) -> Self {
        Self {
            url,
            key,
            prefix: DEFAULT_PREFIX.to_owned(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            limits: StoreLimits::default(),
        }
    }

    /// Sets the prefix of every key, so that several apps can share one Redis database.
    /// Replicas of one app use the same prefix. Default `alter:mcp-auth:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how long one store operation may wait for Redis, connecting included, before it
    /// fails with [`StoreError::Unavailable`](crate::mcp::auth::store::StoreError). Default
    /// 2 seconds.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets how many clients, pending authorizations (with the codes issued from them), access
    /// tokens and refresh tokens the store keeps across all replicas.
    pub fn limits(mut self, limits: StoreLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks the configuration, connects to Redis and checks its version.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`] for an invalid URL, an empty prefix or one with whitespace, a zero
    ///   timeout, or a Redis older than 7.0.
    /// - [`Error::Network`] when Redis cannot be reached or rejects the connection (for
    ///   example a wrong password).
    /// - [`Error::Timeout`] when Redis does not reply within the command timeout.
    pub async fn connect(self) -> Result<RedisStore> {
        if self.prefix.is_empty() || self.prefix.chars().any(char::is_whitespace) {
            return Err(Error::config(format!(
                "invalid Redis key prefix {:?}: use a non-empty prefix without whitespace, \
                 such as `{DEFAULT_PREFIX}`",
                self.prefix
            )));
        }
        if self.command_timeout.is_zero() {
            return Err(Error::config(
                "the Redis command timeout is zero: set a positive duration, such as 2 seconds",
            ));
        }
        let info = self.url.as_str().into_connection_info().map_err(|error| {
            Error::config(format!(
                "invalid Redis URL: {error} (expected `redis://[:password@]host:port[/db]`)"
            ))
        })?;
        let target = describe_target(&info);
        let client = Client::open(info)
            .map_err(|error| Error::config(format!("invalid Redis URL for {target}: {error}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.command_timeout))
            .set_response_timeout(Some(self.command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.command_timeout);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| Error::config(format!("cannot use Redis at {target}: {error}")))?;

        let store = RedisStore {
            inner: Arc::new(Inner {
                connection,
                keys: Keys::new(self.prefix),
                sealer: Sealer::new(&self.key),
                scripts: Scripts::new(),
                limits: self.limits,
                command_timeout: self.command_timeout,
                outage: Outage::default(),
                target,
            }),
        };
        store.check_server().await?;
        Ok(store)
    }
}

impl RedisStore {
    /// Reads the server version, failing when Redis is unreachable or too old.
    async fn check_server(&self) -> Result<()> {
        let target = self.inner.target.clone();
        let mut connection = self.inner.connection.clone();
        let mut command = ::redis::cmd("INFO");
        command.arg("server");
        let request = command.query_async::<String>(&mut connection);
        let info = match tokio::time::timeout(self.inner.command_timeout, request).await {
            Ok(Ok(info)) => info,
            Ok(Err(error)) => {
                return Err(Error::Network {
                    target,
                    source: Box::new(error),
                });
            }
            Err(_) => {
                return Err(Error::Timeout {
                    target,
                    timeout: self.inner.command_timeout,
                });
            }
        };
        let version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .map(str::trim)
            .unwrap_or("unknown");
        let major = version
            .split('.')
            .next()
            .and_then(|major| major.parse::<u64>().ok());
        match major {
            Some(major) if major >= MIN_REDIS_MAJOR => {
                tracing::debug!(
                    target: "alter::mcp::auth",
                    redis = %target,
                    version,
                    "connected the authorization store to redis"
                );
                Ok(())
            }
            _ => Err(Error::config(format!(
                "{target} runs Redis {version}: the authorization store needs Redis 7.0 or newer"
            ))),
        }
    }
}

/// Names the server for messages and logs, without the password the URL may carry.
fn describe_target(info: &::redis::ConnectionInfo) -> String {
    let database = info.redis_settings().db();
    format!("redis {} (database {database})", info.addr())
}
