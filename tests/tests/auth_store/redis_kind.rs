//! The Redis store as a contract subject: a fresh `redis-server` per test.

use std::sync::Arc;

use alter::mcp::auth::redis::{EncryptionKey, RedisStore};
use alter::mcp::auth::store::StoreLimits;
use alter_tests::redis_server::RedisServer;

use crate::contract::{Opened, StoreKind};

pub(crate) struct Redis;

impl StoreKind for Redis {
    type Store = RedisStore;

    async fn open(limits: StoreLimits) -> Opened<RedisStore> {
        let server = start_server().await;
        let store = RedisStore::builder(server.url(), EncryptionKey::generate())
            .limits(limits)
            .connect()
            .await
            .expect("connect the store to the test redis server");
        Opened {
            store: Arc::new(store),
            _guard: Box::new(server),
        }
    }
}

/// Starts a `redis-server` off the async worker threads, because the start waits for it.
pub(crate) async fn start_server() -> RedisServer {
    tokio::task::spawn_blocking(RedisServer::start)
        .await
        .expect("start redis-server")
}
