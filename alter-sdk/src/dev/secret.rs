//! Secret strings held by DevVault: provider tokens, authorization codes, PKCE verifiers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A string that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub(super) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Generates `prefix` followed by 32 random bytes as unpadded base64url (43 characters).
    pub(super) fn random(prefix: &str) -> Self {
        Self(format!("{prefix}{}", random_token()))
    }

    /// Returns the secret itself.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Returns 32 random bytes as unpadded base64url: an unguessable identifier for a URL or form.
pub(super) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}
