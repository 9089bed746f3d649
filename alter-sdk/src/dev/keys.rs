//! API keys minted by DevVault, each with its signing key and actor id.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::protocol::api_key::{self, ApiKey, KeyType};
use crate::protocol::signing::SigningKey;

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const URL_SAFE_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A key DevVault minted, with its signing key and actor id.
#[derive(Clone, Debug)]
pub(super) struct KeyEntry {
    pub(super) key_type: KeyType,
    pub(super) signing_key: SigningKey,
    /// Sent in `X-Alter-Actor-ID` on every response to this key, and expected in that header when
    /// the client replays it.
    pub(super) actor_id: Uuid,
    /// The managed agent an agent key belongs to; requests signed with it act as that agent.
    pub(super) agent_id: Option<Uuid>,
}

/// The keys this DevVault accepts. `Debug` shows how many there are, never the keys.
#[derive(Default)]
pub(super) struct KeyRegistry {
    keys: RwLock<HashMap<Arc<str>, KeyEntry>>,
}

impl fmt::Debug for KeyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.keys.read().map_or(0, |keys| keys.len());
        f.debug_struct("KeyRegistry").field("keys", &count).finish()
    }
}

impl KeyRegistry {
    /// Mints a key of `key_type` with a valid checksum and registers it.
    pub(super) fn mint(&self, key_type: KeyType) -> ApiKey {
        self.register(key_type, None)
    }

    /// Mints an agent key (`alter_ak_…`) that acts as the managed agent `agent_id`.
    pub(super) fn mint_for_agent(&self, agent_id: Uuid) -> ApiKey {
        self.register(KeyType::Agent, Some(agent_id))
    }

    fn register(&self, key_type: KeyType, agent_id: Option<Uuid>) -> ApiKey {
        let text = generate_key(key_type);
        let key = ApiKey::parse(&text).expect("a minted key passes its own format check");
        let entry = KeyEntry {
            key_type,
            signing_key: SigningKey::derive(&text),
            actor_id: Uuid::new_v4(),
            agent_id,
        };
        self.keys
            .write()
            .expect("key registry lock poisoned")
            .insert(Arc::from(text), entry);
        key
    }

    /// Returns the entry of a minted key.
    pub(super) fn get(&self, key: &str) -> Option<KeyEntry> {
        self.keys
            .read()
            .expect("key registry lock poisoned")
            .get(key)
            .cloned()
    }
}

/// Generates the text of a key: `alter_<type>_<22 base32>_<checksum>`, or for a legacy key
/// `alter_key_<40 URL-safe characters>`.
fn generate_key(key_type: KeyType) -> String {
    let type_segment = match key_type {
        KeyType::Runtime => "rk",
        KeyType::Agent => "ak",
        KeyType::Derived => "dk",
        KeyType::Publishable => "pk",
        KeyType::Legacy => {
            // 256 is a multiple of 64, so the modulo picks every character equally often.
            let body: String = rand::random::<[u8; 40]>()
                .iter()
                .map(|byte| char::from(URL_SAFE_ALPHABET[usize::from(byte % 64)]))
                .collect();
            return format!("alter_key_{body}");
        }
    };
    let random: String = rand::random::<[u8; 22]>()
        .iter()
        .map(|byte| char::from(BASE32_ALPHABET[usize::from(byte % 32)]))
        .collect();
    let checksum = api_key::checksum(type_segment, &random);
    format!("alter_{type_segment}_{random}_{checksum}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_minted_keys() {
        let registry = KeyRegistry::default();
        let key = registry.mint(KeyType::Runtime);
        let debug = format!("{registry:?}");
        assert!(!debug.contains(key.expose_secret()), "{debug}");
        assert_eq!(debug, "KeyRegistry { keys: 1 }");
    }

    #[test]
    fn minted_keys_parse_with_their_type() {
        let registry = KeyRegistry::default();
        for key_type in [
            KeyType::Runtime,
            KeyType::Agent,
            KeyType::Derived,
            KeyType::Publishable,
            KeyType::Legacy,
        ] {
            let key = registry.mint(key_type);
            assert_eq!(key.key_type(), key_type);
            let entry = registry
                .get(key.expose_secret())
                .expect("minted key is registered");
            assert_eq!(entry.key_type, key_type);
        }
    }

    #[test]
    fn keys_have_distinct_actor_ids() {
        let registry = KeyRegistry::default();
        let first = registry.mint(KeyType::Runtime);
        let second = registry.mint(KeyType::Runtime);
        assert_ne!(first, second);
        let first_actor = registry.get(first.expose_secret()).unwrap().actor_id;
        let second_actor = registry.get(second.expose_secret()).unwrap().actor_id;
        assert_ne!(first_actor, second_actor);
    }

    #[test]
    fn unknown_key_is_absent() {
        let registry = KeyRegistry::default();
        registry.mint(KeyType::Runtime);
        assert!(
            registry
                .get("alter_rk_abcdefghijklmnopqrstuv_iwpykn")
                .is_none()
        );
    }
}
