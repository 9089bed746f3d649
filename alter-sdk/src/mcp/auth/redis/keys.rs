//! The names of the Redis keys the store uses, all under one prefix.
//!
//! | key | type | contents |
//! |---|---|---|
//! | `client:<client_id>` | string | the registered client as JSON |
//! | `pending:<handle hash>` | hash | `record` (JSON), `outcome` (JSON) |
//! | `code:<code hash>` | hash | `record` (JSON), `family`, and `spent` once redeemed |
//! | `access:<token hash>`, `refresh:<token hash>` | hash | `binding` (JSON), `family`, `scopes` (JSON), `expires_at`, and `rotated_at` once a refresh token is rotated |
//! | `family:<family id>` | set | the members (`access:<hash>`, `refresh:<hash>`) of a token family |
//! | `family-user:<family id>` | string | the family's sealed user token |
//! | `revoked:<family id>` | string | a marker that the family was revoked minutes ago |
//! | `client-live:<client_id>` | string | a marker that expires with the client's last live record |
//! | `index:clients` | sorted set | client ids, scored by registration time |
//! | `index:pending` | sorted set | `pending:<hash>` and `code:<hash>` members, scored by expiry |
//! | `index:access`, `index:refresh` | sorted set | token hashes, scored by expiry |
//!
//! The Lua scripts build the names of the family keys, the token keys and the token indexes
//! from the prefix themselves, so the names here and in `scripts.rs` must agree.

use crate::mcp::auth::store::{FamilyId, SecretHash};

/// The key names of one store.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(super) fn client(&self, client_id: &str) -> String {
        format!("{}client:{client_id}", self.prefix)
    }

    pub(super) fn pending(&self, handle: SecretHash) -> String {
        format!("{}pending:{}", self.prefix, handle.to_hex())
    }

    pub(super) fn code(&self, code: SecretHash) -> String {
        format!("{}code:{}", self.prefix, code.to_hex())
    }

    pub(super) fn access(&self, token: SecretHash) -> String {
        format!("{}access:{}", self.prefix, token.to_hex())
    }

    pub(super) fn refresh(&self, token: SecretHash) -> String {
        format!("{}refresh:{}", self.prefix, token.to_hex())
    }

    pub(super) fn family_user(&self, family: &str) -> String {
        format!("{}family-user:{family}", self.prefix)
    }

    pub(super) fn family_user_of(&self, family: &FamilyId) -> String {
        self.family_user(&family.0)
    }

    pub(super) fn clients_index(&self) -> String {
        format!("{}index:clients", self.prefix)
    }

    pub(super) fn pending_index(&self) -> String {
        format!("{}index:pending", self.prefix)
    }

    pub(super) fn access_index(&self) -> String {
        format!("{}index:access", self.prefix)
    }

    pub(super) fn refresh_index(&self) -> String {
        format!("{}index:refresh", self.prefix)
    }
}

/// Returns the associated data that binds a sealed value to one field of one key.
pub(super) fn field_context(key: &str, field: &str) -> String {
    format!("{key}#{field}")
}
