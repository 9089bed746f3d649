//! Proxy-mode rules shared by the client and DevVault: which headers a caller may pass to
//! `POST /sdk/proxy`, and how long an approval long poll may wait.
//!
//! In proxy mode the backend calls the provider and injects the credential itself, so the
//! caller may not send headers that carry or replace credentials, name another host, or
//! override the method.

use std::time::Duration;

/// Header names (compared after trimming and lower-casing) a proxy request may not carry.
pub const FORBIDDEN_PROXY_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "proxy-authorization",
    "authentication",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-amz-security-token",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-goog-authorization",
    "x-goog-iam-authorization-token",
    "x-stripe-account",
    "x-shopify-access-token",
    "x-http-method",
    "x-http-method-override",
    "x-method-override",
];

/// The maximum time the backend keeps an approval poll (`GET /sdk/approvals/{id}?wait=N`) open, in
/// seconds; it rejects a longer `wait` with HTTP 422.
pub const MAX_APPROVAL_WAIT_SECS: u64 = 25;

/// The maximum approval wait, as a duration.
pub const MAX_APPROVAL_WAIT: Duration = Duration::from_secs(MAX_APPROVAL_WAIT_SECS);

/// Checks that `name` may be sent as a header of a proxy request: an RFC 9110 token that is
/// not in [`FORBIDDEN_PROXY_HEADERS`].
///
/// # Errors
///
/// Returns a message naming the header and the rule it breaks.
pub fn check_proxy_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!(
            "header name {:?} is not a valid HTTP token",
            name.chars().take(64).collect::<String>()
        ));
    }
    let lower = name.trim().to_ascii_lowercase();
    if FORBIDDEN_PROXY_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "header `{name}` may not be sent in proxy mode, because the vault sets credentials \
             and routing itself"
        ));
    }
    Ok(())
}

/// Returns whether `byte` may appear in an RFC 9110 token (`tchar`).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_headers() {
        for name in ["Accept", "X-Request-Id", "content-type", "x_custom!"] {
            assert!(check_proxy_header_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_credential_and_routing_headers() {
        for name in [
            "Authorization",
            "HOST",
            "x-api-key",
            "X-HTTP-Method-Override",
        ] {
            let message = check_proxy_header_name(name).unwrap_err();
            assert!(message.contains("proxy mode"), "{name}: {message}");
        }
    }

    #[test]
    fn rejects_non_tokens() {
        for name in ["", "two words", "colon:", "tab\t", "caf\u{e9}", " host"] {
            let message = check_proxy_header_name(name).unwrap_err();
            assert!(
                message.contains("not a valid HTTP token"),
                "{name:?}: {message}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics(name in "\\PC{0,40}") {
            let _ = check_proxy_header_name(&name);
        }

        #[test]
        fn accepted_names_are_valid_header_names(name in "[!-~]{1,40}") {
            if check_proxy_header_name(&name).is_ok() {
                prop_assert!(http::HeaderName::from_bytes(name.as_bytes()).is_ok());
            }
        }
    }
}
