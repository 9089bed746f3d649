//! HMAC request signing, shared by the client and by DevVault's verifier.
//!
//! Every backend request carries `X-Alter-Timestamp`, `X-Alter-Nonce`, `X-Alter-Content-SHA256`
//! and `X-Alter-Signature`. The signature is a lower-case hex HMAC-SHA256 over a newline-joined
//! string to sign, keyed with `HMAC-SHA256(api key, "alter-signing-v1")` rather than the key
//! itself:
//!
//! ```text
//! METHOD \n CANONICAL_PATH \n TIMESTAMP \n NONCE \n CONTENT_SHA256 \n SCOPE_CONSTRAINTS
//! [\n request-rule:RULE] [\n caller:…] [\n caller-type:…] [\n actor-id:…] [\n actor-context:…]
//! ```
//!
//! The identity lines make it the "v2" string; when any is present the same digest is sent as
//! both `X-Alter-Signature` and `X-Alter-Signature-V2`.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const DERIVATION_MESSAGE: &[u8] = b"alter-signing-v1";

/// Header carrying the signing time in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Alter-Timestamp";
/// Header carrying the request's nonce: 16 random bytes as 32 lower-case hex characters.
pub const NONCE_HEADER: &str = "X-Alter-Nonce";
/// Header carrying the lower-case hex SHA-256 of the body bytes.
pub const CONTENT_SHA256_HEADER: &str = "X-Alter-Content-SHA256";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Alter-Signature";
/// Header repeating the signature when the v2 string was signed.
pub const SIGNATURE_V2_HEADER: &str = "X-Alter-Signature-V2";
/// Header naming the calling service or agent.
pub const CALLER_HEADER: &str = "X-Alter-Caller";
/// Header carrying `agent` or `service`.
pub const CALLER_TYPE_HEADER: &str = "X-Alter-Caller-Type";
/// Header carrying the actor id the backend assigned to this client.
pub const ACTOR_ID_HEADER: &str = "X-Alter-Actor-ID";
/// Header carrying the audit context as compact JSON.
pub const CONTEXT_HEADER: &str = "X-Alter-Context";
/// Header carrying comma-joined scope constraints of a constrained client.
pub const SCOPE_CONSTRAINTS_HEADER: &str = "X-Alter-Scope-Constraints";
/// Header carrying the base64url request rule of a constrained client.
pub const REQUEST_RULE_HEADER: &str = "X-Alter-Request-Rule";

/// The key that signs requests, derived from the API key.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the signing key: `HMAC-SHA256(key = api key bytes, message = "alter-signing-v1")`.
    pub fn derive(api_key: &str) -> Self {
        Self(hmac_sha256(api_key.as_bytes(), DERIVATION_MESSAGE))
    }

    /// Returns the raw 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Returns the lower-case hex HMAC-SHA256 of `string_to_sign`.
    pub fn sign(&self, string_to_sign: &str) -> String {
        hex::encode(hmac_sha256(&self.0, string_to_sign.as_bytes()))
    }

    /// Signs `request` and returns the header values to send.
    pub fn sign_request(&self, request: &RequestToSign<'_>) -> Signature {
        let content_sha256 = content_sha256(request.body);
        let strings = request.strings_to_sign(&content_sha256);
        Signature {
            timestamp: request.timestamp.to_string(),
            nonce: request.nonce.to_owned(),
            signature: self.sign(strings.signed()),
            v2: strings.v2.is_some(),
            content_sha256,
        }
    }

    /// Checks `signature` (hex) against the digest of `string_to_sign` in constant time.
    pub fn verify(&self, string_to_sign: &str, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let expected = hmac_sha256(&self.0, string_to_sign.as_bytes());
        given.len() == expected.len() && bool::from(given.ct_eq(&expected))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The identity values bound into the v2 string to sign, in their fixed order.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignedIdentity<'a> {
    /// The `X-Alter-Caller` value sent.
    pub caller: Option<&'a str>,
    /// The `X-Alter-Caller-Type` value sent; only bound when a caller is set on the client.
    pub caller_type: Option<&'a str>,
    /// The `X-Alter-Actor-ID` value sent.
    pub actor_id: Option<&'a str>,
    /// The exact `X-Alter-Context` header value sent.
    pub actor_context: Option<&'a str>,
}

/// Everything that goes into one request's signature.
#[derive(Clone, Copy, Debug)]
pub struct RequestToSign<'a> {
    /// HTTP method; upper-cased when signed.
    pub method: &'a str,
    /// The path and query as sent, starting at `/sdk/…`, without any base-URL path prefix.
    pub path_and_query: &'a str,
    /// The exact body bytes; empty for no body.
    pub body: &'a [u8],
    /// Unix time in whole seconds.
    pub timestamp: u64,
    /// 32 lower-case hex characters.
    pub nonce: &'a str,
    /// Comma-joined scope constraints, or empty.
    pub scope_constraints: &'a str,
    /// Base64url request rule, or empty.
    pub request_rule: &'a str,
    /// Identity values for the v2 string.
    pub identity: SignedIdentity<'a>,
}

impl RequestToSign<'_> {
    /// Builds the legacy string to sign and, when any identity value is present, the v2 string.
    pub fn strings_to_sign(&self, content_sha256: &str) -> StringsToSign {
        let mut legacy = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method.to_ascii_uppercase(),
            canonical_path(self.path_and_query),
            self.timestamp,
            self.nonce,
            content_sha256,
            self.scope_constraints,
        );
        if !self.request_rule.is_empty() {
            legacy.push_str("\nrequest-rule:");
            legacy.push_str(self.request_rule);
        }

        let identity = [
            ("caller", self.identity.caller),
            ("caller-type", self.identity.caller_type),
            ("actor-id", self.identity.actor_id),
            ("actor-context", self.identity.actor_context),
        ];
        let mut v2 = legacy.clone();
        for (label, value) in identity {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                v2.push('\n');
                v2.push_str(label);
                v2.push(':');
                v2.push_str(value);
            }
        }
        let v2 = (v2 != legacy).then_some(v2);
        StringsToSign { legacy, v2 }
    }
}

/// The strings to sign for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringsToSign {
    /// The legacy string, always computed.
    pub legacy: String,
    /// The v2 string, present when it differs from the legacy one.
    pub v2: Option<String>,
}

impl StringsToSign {
    /// Returns the string whose digest is sent: the v2 string when there is one.
    pub fn signed(&self) -> &str {
        self.v2.as_deref().unwrap_or(&self.legacy)
    }
}

/// Signature header values for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `X-Alter-Timestamp`.
    pub timestamp: String,
    /// `X-Alter-Nonce`.
    pub nonce: String,
    /// `X-Alter-Content-SHA256`.
    pub content_sha256: String,
    /// `X-Alter-Signature`, repeated in `X-Alter-Signature-V2` when `v2` is set.
    pub signature: String,
    /// Whether the v2 string was signed.
    pub v2: bool,
}

/// Returns the lower-case hex SHA-256 of `body`.
pub fn content_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Returns 16 random bytes as 32 lower-case hex characters.
pub fn new_nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Canonicalizes a path and query for signing.
///
/// The path is percent-decoded (`%2F` becomes `/`; malformed escapes stay as written; invalid
/// UTF-8 becomes U+FFFD). A non-empty query is split on `&`, each pair at its first `=`, with `+`
/// read as a space and escapes decoded; the pairs are sorted by name, then value, and re-encoded
/// with only `A-Z a-z 0-9 _ . - ~` literal and space as `+`. A bare trailing `?` is dropped, but
/// a query that decodes to no pairs keeps its `?`.
pub fn canonical_path(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, query),
        None => (path_and_query, ""),
    };
    let mut canonical = percent_decode_str(path).decode_utf8_lossy().into_owned();
    if query.is_empty() {
        return canonical;
    }

    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            (form_decode(name), form_decode(value))
        })
        .collect();
    pairs.sort();

    canonical.push('?');
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            canonical.push('&');
        }
        canonical.push_str(&form_encode(name));
        canonical.push('=');
        canonical.push_str(&form_encode(value));
    }
    canonical
}

/// Characters that `application/x-www-form-urlencoded` encoding leaves literal, besides
/// alphanumerics.
const FORM_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b' ');

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn form_encode(text: &str) -> String {
    utf8_percent_encode(text, FORM_ENCODE_SET)
        .to_string()
        .replace(' ', "+")
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_path_cases() {
        let cases = [
            ("/sdk/x", "/sdk/x"),
            ("/sdk/x?", "/sdk/x"),
            ("/sdk/x?&", "/sdk/x?"),
            ("/sdk/x?flag", "/sdk/x?flag="),
            ("/sdk/a%2Fb/c%25d", "/sdk/a/b/c%d"),
            ("/sdk/bad%zz%4", "/sdk/bad%zz%4"),
            ("/sdk/x?b=2&a=1&a=0", "/sdk/x?a=0&a=1&b=2"),
            ("/sdk/x?q=a+b%20c", "/sdk/x?q=a+b+c"),
            ("/sdk/x?k=%FF", "/sdk/x?k=%EF%BF%BD"),
            ("/sdk/x?a=1=2", "/sdk/x?a=1%3D2"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical_path(input), expected, "input {input}");
        }
    }

    #[test]
    fn verify_rejects_wrong_and_malformed_signatures() {
        let key = SigningKey::derive("alter_rk_abcdefghijklmnopqrstuv_iwpykn");
        let signature = key.sign("hello");
        assert!(key.verify("hello", &signature));
        assert!(!key.verify("hello!", &signature));
        assert!(!key.verify("hello", "zz"));
        assert!(!key.verify("hello", &signature[..10]));
    }
}
