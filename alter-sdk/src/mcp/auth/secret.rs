//! The secrets the authorization server hands out, and PKCE verification.
//!
//! Every secret is 32 random bytes in unpadded base64url (43 characters). Tokens carry a prefix
//! (`alter_at_`, `alter_rt_`) so that a leaked one is easy to recognise in logs and secret
//! scanners; codes and pending-authorization handles travel in URLs and have none.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::store::FamilyId;

/// The prefix of every access token.
pub(crate) const ACCESS_TOKEN_PREFIX: &str = "alter_at_";
/// The prefix of every refresh token.
pub(crate) const REFRESH_TOKEN_PREFIX: &str = "alter_rt_";
/// The length of the random part of every secret: 32 bytes in unpadded base64url.
pub(crate) const SECRET_LENGTH: usize = 43;

/// Returns 32 random bytes as unpadded base64url.
pub(crate) fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Generates an access token.
pub(crate) fn new_access_token() -> String {
    format!("{ACCESS_TOKEN_PREFIX}{}", random_secret())
}

/// Generates a refresh token.
pub(crate) fn new_refresh_token() -> String {
    format!("{REFRESH_TOKEN_PREFIX}{}", random_secret())
}

/// Generates an authorization code.
#[allow(
    dead_code,
    reason = "used by /authorize; remove this once it is merged"
)]
pub(crate) fn new_code() -> String {
    random_secret()
}

/// Generates the handle of a pending authorization.
#[allow(
    dead_code,
    reason = "used by /authorize; remove this once it is merged"
)]
pub(crate) fn new_pending_handle() -> String {
    random_secret()
}

/// Generates the id of a new token family.
#[allow(
    dead_code,
    reason = "used by /authorize; remove this once it is merged"
)]
pub(crate) fn new_family_id() -> FamilyId {
    FamilyId(random_secret())
}

/// Generates a client id. It is public, so it needs no more than to be unique.
pub(crate) fn new_client_id() -> String {
    format!("alter_client_{}", random_secret())
}

/// Checks that `verifier` is 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`, the syntax of a
/// PKCE code verifier (RFC 7636, section 4.1).
pub(crate) fn is_valid_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// Checks that `challenge` can be an S256 code challenge: the unpadded base64url of a SHA-256,
/// which is 43 characters of the base64url alphabet.
#[allow(
    dead_code,
    reason = "used by /authorize; remove this once it is merged"
)]
pub(crate) fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == SECRET_LENGTH
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a code verifier against an S256 challenge: `BASE64URL(SHA256(verifier))` must equal
/// `challenge`. The comparison takes the same time wherever the strings differ.
pub(crate) fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !is_valid_code_verifier(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_matches_rfc_example() {
        assert!(verify_s256(VERIFIER, CHALLENGE));
    }

    #[test]
    fn s256_rejects_other_verifier() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        assert!(!verify_s256(other, CHALLENGE));
    }

    #[test]
    fn s256_rejects_plain_method() {
        assert!(!verify_s256(VERIFIER, VERIFIER));
    }

    #[test]
    fn verifier_syntax() {
        assert!(is_valid_code_verifier(&"a".repeat(43)));
        assert!(is_valid_code_verifier(&"~._-".repeat(32)));
        assert!(!is_valid_code_verifier(&"a".repeat(42)));
        assert!(!is_valid_code_verifier(&"a".repeat(129)));
        assert!(!is_valid_code_verifier(&format!("{}+", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{}é", "a".repeat(42))));
    }

    #[test]
    fn challenge_syntax() {
        assert!(is_valid_s256_challenge(CHALLENGE));
        assert!(!is_valid_s256_challenge(&CHALLENGE[1..]));
        assert!(!is_valid_s256_challenge(&format!("{}=", &CHALLENGE[1..])));
    }

    #[test]
    fn token_shapes() {
        let access = new_access_token();
        let refresh = new_refresh_token();
        assert_eq!(access.len(), ACCESS_TOKEN_PREFIX.len() + SECRET_LENGTH);
        assert!(access.starts_with(ACCESS_TOKEN_PREFIX));
        assert_eq!(refresh.len(), REFRESH_TOKEN_PREFIX.len() + SECRET_LENGTH);
        assert!(refresh.starts_with(REFRESH_TOKEN_PREFIX));
        assert_eq!(new_code().len(), SECRET_LENGTH);
        assert_eq!(new_pending_handle().len(), SECRET_LENGTH);
        assert_ne!(new_code(), new_code());
    }
}
