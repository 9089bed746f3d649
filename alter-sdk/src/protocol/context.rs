//! The audit context: string metadata attached to a call, sent as the `X-Alter-Context` header
//! and repeated in the audit row.
//!
//! The header carries compact JSON with every non-ASCII character escaped, keys in insertion
//! order, e.g. `{"tool":"list_emails","run_id":"run-42","note":"caf\u00e9"}`. A context has at
//! most 20 keys, keys of at most 64 characters, values of at most 512 characters and an encoded
//! header of at most 4096 characters. Lengths count Unicode characters, not bytes.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::protocol::json;

/// The maximum number of keys in a context.
pub const MAX_CONTEXT_KEYS: usize = 20;
/// The maximum length of a key, in characters.
pub const MAX_CONTEXT_KEY_CHARS: usize = 64;
/// The maximum length of a value, in characters.
pub const MAX_CONTEXT_VALUE_CHARS: usize = 512;
/// The maximum length of the encoded header value, in characters (the encoding is ASCII, so
/// also in bytes).
pub const MAX_CONTEXT_ENCODED_CHARS: usize = 4096;

/// String metadata for the audit trail, in insertion order.
///
/// It serializes as a JSON object with its keys in insertion order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    entries: Vec<(String, String)>,
}

impl AuditContext {
    /// Creates an empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` and returns the previous value. A key that is already present keeps
    /// its position.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        let value = value.into();
        match self
            .entries
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Returns the context with `key` set to `value`, for building one in an expression.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Returns the value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value.as_str())
    }

    /// Removes `key` and returns its value; the other keys keep their order.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self
            .entries
            .iter()
            .position(|(existing, _)| existing == key)?;
        Some(self.entries.remove(index).1)
    }

    /// Returns the number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether the context has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates over the entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Encodes the context as the `X-Alter-Context` header value, or `None` when it is empty
    /// and the header is left out.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when the context has more than 20 keys, a key longer
    /// than 64 characters, a value longer than 512 characters, or encodes to more than 4096
    /// characters. The message names the key but never quotes a value.
    pub fn encode(&self) -> Result<Option<String>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        self.check_limits()?;
        let encoded = json::to_ascii_string(self).map_err(|error| {
            Error::invalid_request(format!("cannot encode the audit context: {error}"))
        })?;
        if encoded.len() > MAX_CONTEXT_ENCODED_CHARS {
            return Err(Error::invalid_request(format!(
                "the encoded audit context is {} characters long, more than the maximum of \
                 {MAX_CONTEXT_ENCODED_CHARS}: shorten or remove values (non-ASCII characters \
                 take 6 characters each once escaped)",
                encoded.len()
            )));
        }
        Ok(Some(encoded))
    }

    /// Parses an `X-Alter-Context` header value and checks the same limits as
    /// [`AuditContext::encode`].
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when the header is not a JSON object of strings or
    /// breaks a limit.
    pub fn decode(header: &str) -> Result<Self, Error> {
        let object: Map<String, Value> = serde_json::from_str(header).map_err(|error| {
            Error::invalid_request(format!("the audit context is not a JSON object: {error}"))
        })?;
        let mut context = Self::new();
        for (key, value) in object {
            let Value::String(value) = value else {
                return Err(Error::invalid_request(format!(
                    "the audit context value for key {} is not a string",
                    quote_key(&key)
                )));
            };
            context.entries.push((key, value));
        }
        context.check_limits()?;
        if header.chars().count() > MAX_CONTEXT_ENCODED_CHARS {
            return Err(Error::invalid_request(format!(
                "the audit context header is longer than {MAX_CONTEXT_ENCODED_CHARS} characters"
            )));
        }
        Ok(context)
    }

    fn check_limits(&self) -> Result<(), Error> {
        if self.len() > MAX_CONTEXT_KEYS {
            return Err(Error::invalid_request(format!(
                "the audit context has {} keys, more than the maximum of {MAX_CONTEXT_KEYS}",
                self.len()
            )));
        }
        for (key, value) in &self.entries {
            let key_chars = key.chars().count();
            if key_chars > MAX_CONTEXT_KEY_CHARS {
                return Err(Error::invalid_request(format!(
                    "the audit context key {} is {key_chars} characters long, more than the \
                     maximum of {MAX_CONTEXT_KEY_CHARS}",
                    quote_key(key)
                )));
            }
            let value_chars = value.chars().count();
            if value_chars > MAX_CONTEXT_VALUE_CHARS {
                return Err(Error::invalid_request(format!(
                    "the audit context value for key {} is {value_chars} characters long, more \
                     than the maximum of {MAX_CONTEXT_VALUE_CHARS}",
                    quote_key(key)
                )));
            }
        }
        Ok(())
    }
}

/// Quotes a key for an error message, cut to the maximum key length.
fn quote_key(key: &str) -> String {
    if key.chars().count() <= MAX_CONTEXT_KEY_CHARS {
        format!("{key:?}")
    } else {
        let excerpt: String = key.chars().take(MAX_CONTEXT_KEY_CHARS).collect();
        format!("{excerpt:?}…")
    }
}

impl fmt::Debug for AuditContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for AuditContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for AuditContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut context = Self::new();
        context.extend(iter);
        context
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for AuditContext {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for AuditContext {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn message(error: Error) -> String {
        match error {
            Error::InvalidRequest(message) => message,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn encodes_recorded_header() {
        let context = AuditContext::from([
            ("tool", "list_emails"),
            ("run_id", "run-42"),
            ("note", "caf\u{e9}"),
        ]);
        assert_eq!(
            context.encode().unwrap().as_deref(),
            Some(r#"{"tool":"list_emails","run_id":"run-42","note":"caf\u00e9"}"#)
        );
    }

    #[test]
    fn empty_context_has_no_header() {
        assert_eq!(AuditContext::new().encode().unwrap(), None);
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut context = AuditContext::new().with("a", "1").with("b", "2");
        assert_eq!(context.insert("a", "3"), Some("1".to_owned()));
        assert_eq!(context.insert("c", "4"), None);
        let entries: Vec<_> = context.iter().collect();
        assert_eq!(entries, [("a", "3"), ("b", "2"), ("c", "4")]);
        assert_eq!(context.get("b"), Some("2"));
        assert_eq!(context.remove("b"), Some("2".to_owned()));
        assert_eq!(context.remove("b"), None);
        assert_eq!(context.encode().unwrap().unwrap(), r#"{"a":"3","c":"4"}"#);
    }

    #[test]
    fn key_count_limit() {
        let twenty: AuditContext = (0..20).map(|i| (format!("k{i}"), "v")).collect();
        assert!(twenty.encode().is_ok());
        let twenty_one = twenty.with("k20", "v");
        let text = message(twenty_one.encode().unwrap_err());
        assert!(text.contains("21 keys"), "{text}");
    }

    #[test]
    fn key_length_counts_characters() {
        let key = "\u{e9}".repeat(64);
        assert!(AuditContext::from([(key.as_str(), "v")]).encode().is_ok());
        let key = "k".repeat(65);
        let text = message(
            AuditContext::from([(key.as_str(), "v")])
                .encode()
                .unwrap_err(),
        );
        assert!(text.contains("65 characters"), "{text}");
        assert!(text.contains(&format!("{:?}…", "k".repeat(64))), "{text}");
    }

    #[test]
    fn value_length_counts_characters() {
        let value = "\u{e9}".repeat(512);
        assert!(AuditContext::from([("k", value.as_str())]).encode().is_ok());
        let value = "SECRET".repeat(100);
        let text = message(
            AuditContext::from([("k", value.as_str())])
                .encode()
                .unwrap_err(),
        );
        assert!(text.contains("600 characters"), "{text}");
        assert!(text.contains("\"k\""), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn encoded_length_limit() {
        // Nine 500-character values fit the per-value limit but not the header limit.
        let value = "a".repeat(500);
        let context: AuditContext = (0..9).map(|i| (format!("k{i}"), value.clone())).collect();
        let text = message(context.encode().unwrap_err());
        assert!(text.contains("4573 characters"), "{text}");

        // Each escaped character takes 6 characters once encoded.
        let escaped = "\u{e9}".repeat(512);
        let context = AuditContext::from([("a", escaped.as_str()), ("b", escaped.as_str())]);
        let text = message(context.encode().unwrap_err());
        assert!(text.contains("6159 characters"), "{text}");
    }

    #[test]
    fn encoded_length_boundary() {
        // Eight two-character keys add 65 characters of JSON around the values.
        let value_length = |i: usize| if i < 7 { 504 } else { 503 };
        let mut context: AuditContext = (0..8)
            .map(|i| (format!("k{i}"), "a".repeat(value_length(i))))
            .collect();
        let encoded = context.encode().unwrap().unwrap();
        assert_eq!(encoded.len(), MAX_CONTEXT_ENCODED_CHARS);

        context.insert("k7", "a".repeat(504));
        let text = message(context.encode().unwrap_err());
        assert!(text.contains("4097 characters"), "{text}");
    }

    #[test]
    fn decode_checks_types_and_limits() {
        let context = AuditContext::decode(r#"{"tool":"list_emails","note":"caf\u00e9"}"#).unwrap();
        assert_eq!(context.get("note"), Some("caf\u{e9}"));
        let text = message(AuditContext::decode(r#"{"n":1}"#).unwrap_err());
        assert!(text.contains("not a string"), "{text}");
        let text = message(AuditContext::decode("[]").unwrap_err());
        assert!(text.contains("not a JSON object"), "{text}");
        let long = format!(r#"{{"k":"{}"}}"#, "a".repeat(513));
        assert!(AuditContext::decode(&long).is_err());
    }

    #[test]
    fn serializes_in_order() {
        let context = AuditContext::from([("z", "1"), ("a", "2")]);
        assert_eq!(
            serde_json::to_string(&context).unwrap(),
            r#"{"z":"1","a":"2"}"#
        );
    }

    proptest! {
        #[test]
        fn encode_never_panics(
            entries in prop::collection::vec((".{0,70}", ".{0,600}"), 0..24),
        ) {
            let context: AuditContext = entries.into_iter().collect();
            let _ = context.encode();
        }

        #[test]
        fn encode_decode_roundtrip(
            entries in prop::collection::vec(("[a-z_]{1,12}", ".{0,40}"), 0..10),
        ) {
            let context: AuditContext = entries.into_iter().collect();
            match context.encode().unwrap() {
                None => prop_assert!(context.is_empty()),
                Some(header) => {
                    prop_assert!(header.is_ascii());
                    prop_assert_eq!(AuditContext::decode(&header).unwrap(), context);
                }
            }
        }
    }
}
