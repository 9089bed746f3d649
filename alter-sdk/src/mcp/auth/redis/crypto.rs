//! Encryption of the secrets a record carries: the user's identity-provider token and the
//! backend's sign-in session token.
//!
//! Each value is sealed with XChaCha20-Poly1305 under a random 24-byte nonce, with the name of
//! the Redis key (and field) that stores it as associated data. A sealed value copied into
//! another record therefore fails to open instead of handing one user's token to another.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};

/// The environment variable [`EncryptionKey::from_env`] reads.
pub const KEY_ENV: &str = "ALTER_MCP_AUTH_KEY";

/// The prefix of a sealed value. It names the format, so that a later format can be recognised.
const SEALED_PREFIX: &str = "v1.";

const NONCE_LEN: usize = 24;

/// The 32-byte key that encrypts the secrets inside stored records.
///
/// Every replica sharing one Redis needs the same key; a replica with another key cannot read
/// the records the others wrote. Generate one with `openssl rand -base64 32`.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Takes the key from 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `bytes` is not exactly 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::config(format!(
                "the MCP auth encryption key is {} bytes long: it must be exactly 32 random \
                 bytes (generate one with `openssl rand -base64 32`)",
                bytes.len()
            ))
        })?;
        Ok(Self(key))
    }

    /// Decodes the key from standard base64 (padded or not), as `openssl rand -base64 32`
    /// prints it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `encoded` is not base64 or does not decode to 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self> {
        let trimmed = encoded.trim().trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .map_err(|_| {
                Error::config(
                    "the MCP auth encryption key is not valid base64: set it to the output of \
                     `openssl rand -base64 32`",
                )
            })?;
        Self::from_bytes(&bytes)
    }

    /// Reads the key, in base64, from the environment variable `ALTER_MCP_AUTH_KEY`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the variable is missing, empty, not base64 or not 32 bytes.
    pub fn from_env() -> Result<Self> {
        match std::env::var(KEY_ENV) {
            Ok(value) if !value.trim().is_empty() => Self::from_base64(&value),
            _ => Err(Error::config(format!(
                "{KEY_ENV} is not set: every replica needs the same 32-byte key, for example \
                 `export {KEY_ENV}=$(openssl rand -base64 32)`"
            ))),
        }
    }

    /// Generates a random key, for tests and one-off runs whose records need not outlive the
    /// process.
    pub fn generate() -> Self {
        Self(Generate::generate())
    }

    /// Returns the key in standard base64, the form [`EncryptionKey::from_base64`] reads.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

/// A sealed value that failed to open: a different key, or a value moved or altered.
#[derive(Debug)]
pub(super) struct OpenError;

/// Seals and opens record secrets with one key.
pub(super) struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub(super) fn new(key: &EncryptionKey) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    /// Encrypts `plaintext` bound to `context`, the name of the place that stores it.
    pub(super) fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = XNonce::generate();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for messages longer than the cipher's 256 GiB limit.
        let ciphertext = self
            .cipher
            .encrypt(&nonce, payload)
            .expect("a record secret is far below the cipher's length limit");
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Decrypts a value [`Sealer::seal`] produced for the same `context`.
    pub(super) fn open(&self, sealed: &str, context: &str) -> Result<String, OpenError> {
        let encoded = sealed.strip_prefix(SEALED_PREFIX).ok_or(OpenError)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = self
            .cipher
            .decrypt(&nonce, payload)
            .map_err(|_| OpenError)?;
        String::from_utf8(plaintext).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&EncryptionKey::from_bytes(&[7; 32]).unwrap())
    }

    #[test]
    fn seal_round_trips() {
        let sealer = sealer();
        let sealed = sealer.seal("user-token-value", "alter:mcp-auth:family:f1");
        assert_eq!(
            sealer.open(&sealed, "alter:mcp-auth:family:f1").unwrap(),
            "user-token-value"
        );
    }

    #[test]
    fn sealed_value_hides_plaintext() {
        let sealed = sealer().seal("user-token-value", "context");
        assert!(!sealed.contains("user-token-value"));
        assert!(sealed.starts_with(SEALED_PREFIX));
    }

    #[test]
    fn seal_uses_fresh_nonces() {
        let sealer = sealer();
        assert_ne!(
            sealer.seal("same", "context"),
            sealer.seal("same", "context")
        );
    }

    #[test]
    fn open_rejects_other_context() {
        let sealer = sealer();
        let sealed = sealer.seal("user-token-value", "alter:mcp-auth:family:f1");
        assert!(sealer.open(&sealed, "alter:mcp-auth:family:f2").is_err());
    }

    #[test]
    fn open_rejects_other_key() {
        let sealed = sealer().seal("user-token-value", "context");
        let other = Sealer::new(&EncryptionKey::from_bytes(&[8; 32]).unwrap());
        assert!(other.open(&sealed, "context").is_err());
    }

    #[test]
    fn open_rejects_altered_values() {
        let sealer = sealer();
        let sealed = sealer.seal("user-token-value", "context");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(sealer.open(&altered, "context").is_err());
        assert!(sealer.open("v1.", "context").is_err());
        assert!(sealer.open("plain-text", "context").is_err());
        assert!(sealer.open("v1.!!!", "context").is_err());
    }

    #[test]
    fn key_rejects_wrong_lengths() {
        for length in [0, 16, 31, 33, 64] {
            let error = EncryptionKey::from_bytes(&vec![1; length]).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(&format!("{length} bytes long")),
                "{message}"
            );
            assert!(message.contains("openssl rand -base64 32"), "{message}");
        }
    }

    #[test]
    fn key_reads_base64() {
        let key = EncryptionKey::generate();
        let parsed = EncryptionKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(parsed.0, key.0);
        let unpadded = key.to_base64().trim_end_matches('=').to_owned();
        assert_eq!(EncryptionKey::from_base64(&unpadded).unwrap().0, key.0);
    }

    #[test]
    fn key_rejects_bad_base64() {
        let message = EncryptionKey::from_base64("not base64!")
            .unwrap_err()
            .to_string();
        assert!(message.contains("not valid base64"), "{message}");
        let short = STANDARD.encode([1u8; 16]);
        let message = EncryptionKey::from_base64(&short).unwrap_err().to_string();
        assert!(message.contains("16 bytes long"), "{message}");
    }

    #[test]
    fn key_debug_is_redacted() {
        let key = EncryptionKey::from_bytes(&[0xab; 32]).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "EncryptionKey(<redacted>)");
    }
}
