//! API key formats and their checksum.
//!
//! Two grammars are accepted, and a key is checked before any network call so that a mistyped
//! key fails at start-up instead of on the first request:
//!
//! - scoped: `alter_<type>_<random>_<checksum>`, where `<type>` is `rk`, `ak`, `dk` or `pk`,
//!   `<random>` is 22 characters of lower-case base32 and `<checksum>` is 6 more, derived from
//!   the CRC-32 of `<type>:<random>`;
//! - legacy: `alter_key_` followed by 40 characters from `A-Z a-z 0-9 - _`, with no checksum.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const RANDOM_LEN: usize = 22;
const CHECKSUM_LEN: usize = 6;
const LEGACY_PREFIX: &str = "alter_key_";
const LEGACY_BODY_LEN: usize = 40;

/// The type segment of an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `alter_rk_…`: a runtime key, held by an application.
    Runtime,
    /// `alter_ak_…`: an agent key, held by a managed agent.
    Agent,
    /// `alter_dk_…`: a derived key with narrowed scopes.
    Derived,
    /// `alter_pk_…`: a publishable key.
    Publishable,
    /// `alter_key_…`: a key minted before scoped keys existed; its prefix does not identify its holder.
    Legacy,
}

impl KeyType {
    fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "rk" => Some(Self::Runtime),
            "ak" => Some(Self::Agent),
            "dk" => Some(Self::Derived),
            "pk" => Some(Self::Publishable),
            _ => None,
        }
    }
}

/// An Alter API key that passed the format and checksum checks.
///
/// `Debug` and `Display` print only the key type; [`ApiKey::expose_secret`] is the one way to
/// read the key itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    secret: Arc<str>,
    key_type: KeyType,
}

impl ApiKey {
    /// Parses and validates an API key.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] when the key matches neither grammar or its checksum does not
    /// match. The message names the rule that failed but never repeats the key.
    pub fn parse(key: &str) -> Result<Self, Error> {
        let key_type = validate(key).map_err(|reason| {
            Error::config(format!(
                "invalid API key: {reason}; expected `alter_<rk|ak|dk|pk>_<22 base32 characters>_<6-character checksum>` or a legacy `alter_key_` key"
            ))
        })?;
        Ok(Self {
            secret: Arc::from(key),
            key_type,
        })
    }

    /// Returns the type segment of the key.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Returns the key itself, for the `x-api-key` header and the signing-key derivation.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key_type", &self.key_type)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {:?} API key>", self.key_type)
    }
}

/// Returns whether `key` is a well-formed API key with a correct checksum.
pub fn is_valid_key(key: &str) -> bool {
    validate(key).is_ok()
}

/// Computes the six-character checksum for `type_segment` and `random`: the CRC-32 (IEEE) of
/// `"<type>:<random>"`, written as six base32 characters, least significant 5-bit group first.
pub fn checksum(type_segment: &str, random: &str) -> String {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(type_segment.as_bytes());
    hasher.update(b":");
    hasher.update(random.as_bytes());
    let crc = hasher.finalize();
    (0..CHECKSUM_LEN)
        .map(|i| char::from(BASE32_ALPHABET[((crc >> (5 * i)) & 31) as usize]))
        .collect()
}

fn validate(key: &str) -> Result<KeyType, &'static str> {
    if key.is_empty() {
        return Err("the key is empty");
    }
    if key.trim() != key {
        return Err(
            "the key starts or ends with whitespace, such as a newline read from a file; remove it",
        );
    }
    if let Some(body) = key.strip_prefix(LEGACY_PREFIX) {
        let well_formed = body.len() == LEGACY_BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return if well_formed {
            Ok(KeyType::Legacy)
        } else {
            Err("a legacy key needs exactly 40 characters from A-Z, a-z, 0-9, '-' and '_'")
        };
    }

    let mut segments = key.split('_');
    let (Some("alter"), Some(type_segment), Some(random), Some(given_checksum), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err("the key does not have the form alter_<type>_<random>_<checksum>");
    };
    let key_type =
        KeyType::from_segment(type_segment).ok_or("the key type is not rk, ak, dk or pk")?;
    let is_base32 = |s: &str| s.bytes().all(|b| BASE32_ALPHABET.contains(&b));
    if random.len() != RANDOM_LEN || !is_base32(random) {
        return Err("the random part must be 22 lower-case base32 characters");
    }
    if given_checksum.len() != CHECKSUM_LEN || !is_base32(given_checksum) {
        return Err("the checksum must be 6 lower-case base32 characters");
    }
    if checksum(type_segment, random) != given_checksum {
        return Err("the checksum does not match, so a character was probably mistyped");
    }
    Ok(key_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";

    #[test]
    fn parses_each_type() {
        let cases = [
            (APP_KEY, KeyType::Runtime),
            ("alter_ak_a2b3c4d5e6f7g2h3i4j5k6_nis3d2", KeyType::Agent),
            ("alter_dk_zzzzzzzzzzzzzzzzzzzzzz_o33hli", KeyType::Derived),
            (
                "alter_pk_2222222222222222222222_76q7cz",
                KeyType::Publishable,
            ),
            (
                "alter_key_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_Ab3-_",
                KeyType::Legacy,
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(ApiKey::parse(key).unwrap().key_type(), expected, "{key}");
        }
    }

    #[test]
    fn typo_reports_checksum_without_key() {
        let error = ApiKey::parse("alter_rk_abcdefghijklmnopqrstuw_iwpykn").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("checksum does not match"), "{message}");
        assert!(!message.contains("abcdefghijklmnopqrstuw"), "{message}");
    }

    #[test]
    fn surrounding_whitespace_is_named() {
        for key in [
            format!("{APP_KEY}\n"),
            format!("{APP_KEY}\r\n"),
            format!(" {APP_KEY}"),
            format!("\t{APP_KEY}"),
        ] {
            let message = ApiKey::parse(&key).unwrap_err().to_string();
            assert!(
                message.contains("starts or ends with whitespace"),
                "{key:?}: {message}"
            );
            assert!(!message.contains("abcdefghij"), "{message}");
        }
    }

    #[test]
    fn debug_and_display_redact() {
        let key = ApiKey::parse(APP_KEY).unwrap();
        assert!(!format!("{key:?}").contains("abcdefghij"));
        assert!(!key.to_string().contains("abcdefghij"));
    }

    #[test]
    fn non_ascii_input_is_rejected() {
        assert!(!is_valid_key("alter_rk_\u{e9}bcdefghijklmnopqrstu_iwpykn"));
        assert!(!is_valid_key("alter_key_\u{e9}"));
    }
}
