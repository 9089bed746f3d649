//! The in-memory store as a contract subject.

use std::sync::Arc;

use alter::mcp::auth::MemoryStore;
use alter::mcp::auth::store::StoreLimits;

use crate::contract::{Opened, StoreKind};

pub(crate) struct Memory;

impl StoreKind for Memory {
    type Store = MemoryStore;

    async fn open(limits: StoreLimits) -> Opened<MemoryStore> {
        Opened {
            store: Arc::new(MemoryStore::with_limits(limits)),
            _guard: Box::new(()),
        }
    }
}
