//! A Redis store for the authorization server, shared by every replica of an app.
//!
//! Clients, pending authorizations, codes and tokens live in one Redis (7.0 or newer), so an
//! app behind a load balancer can register a client on one replica, sign the user in on a
//! second and refresh on a third. Every step that reads and writes runs as one Lua script, so
//! a code redeemed on two replicas at once succeeds once and a refresh token presented twice
//! at once rotates once. Records expire through Redis expiry; [`AuthStore::sweep`] does
//! nothing.
//!
//! What Redis stores:
//! - tokens, codes and pending-authorization handles only as their SHA-256 in key names;
//! - the user's identity-provider token and the backend's sign-in session token sealed with
//!   XChaCha20-Poly1305 under the [`EncryptionKey`], which every replica must share;
//! - everything else (client metadata, redirect URIs, scopes, expiry times) as plain JSON.
//!
//! When Redis is unreachable, slow or restarting, every operation fails within the command
//! timeout with [`StoreError::Unavailable`], and the store reconnects by itself once Redis
//! replies again. Redis Cluster is not supported, because the family scripts touch keys they
//! find only while running.
//!
//! ```no_run
//! # async fn run() -> alter::Result<()> {
//! use alter::mcp::auth::redis::{EncryptionKey, RedisStore};
//!
//! let key = EncryptionKey::from_env()?; // ALTER_MCP_AUTH_KEY, 32 bytes in base64
//! let store = RedisStore::connect("redis://127.0.0.1:6379", key).await?;
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! [`AuthStore::sweep`]: crate::mcp::auth::store::AuthStore::sweep
//! [`StoreError::Unavailable`]: crate::mcp::auth::store::StoreError::Unavailable

mod config;
mod crypto;
mod keys;
mod outage;
mod records;
mod scripts;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;

pub use self::config::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_PREFIX, RedisStoreBuilder};
use self::crypto::Sealer;
pub use self::crypto::{EncryptionKey, KEY_ENV};
use self::keys::Keys;
use self::outage::Outage;
use self::scripts::Scripts;
use crate::error::Result;
use crate::mcp::auth::store::StoreLimits;

/// An [`AuthStore`](crate::mcp::auth::store::AuthStore) in Redis. Cloning is cheap: clones
/// share one connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    keys: Keys,
    sealer: Sealer,
    scripts: Scripts,
    limits: StoreLimits,
    command_timeout: Duration,
    outage: Outage,
    /// The server's address, without credentials, for logs.
    target: String,
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host:port[/db]`) with the default
    /// prefix, command timeout and limits.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str, key: EncryptionKey) -> Result<Self> {
        Self::builder(url, key).connect().await
    }

    /// Starts configuring a store for the Redis at `url`.
    pub fn builder(url: impl Into<String>, key: EncryptionKey) -> RedisStoreBuilder {
        RedisStoreBuilder::new(url.into(), key)
    }

    /// Returns the prefix of every key this store writes.
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.inner.target)
            .field("prefix", &self.inner.keys.prefix())
            .field("limits", &self.inner.limits)
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}
