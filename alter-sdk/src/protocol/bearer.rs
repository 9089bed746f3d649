//! Parsing the `Authorization: Bearer <token>` request header.
//!
//! The grammar is RFC 6750 section 2.1: `Bearer`, matched case-insensitively, one or more
//! spaces, and one token of the characters `A-Z a-z 0-9 - . _ ~ + /` followed by any number of
//! `=`. Whitespace around the whole value is not part of it (RFC 9110 section 5.5) and is
//! ignored. Anything else is rejected, never repaired: another scheme, a second token, an empty
//! token, a character outside that set, non-ASCII bytes, or several `Authorization` headers.

use std::fmt;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::identity::UserToken;

/// The reason an `Authorization` header is not a usable bearer credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedBearer {
    /// The request has more than one `Authorization` header.
    MultipleHeaders,
    /// The header value is empty.
    Empty,
    /// The header value contains bytes outside ASCII.
    NonAscii,
    /// The header uses a scheme other than `Bearer`, such as `Basic`.
    OtherScheme,
    /// The header is `Bearer` with no token after it.
    MissingToken,
    /// Something follows the token, such as a second token.
    TrailingData,
    /// The token contains a character outside the RFC 6750 token syntax.
    InvalidToken,
}

impl MalformedBearer {
    /// Returns a description that is safe to send to the client: it never repeats the header.
    pub fn message(self) -> &'static str {
        match self {
            Self::MultipleHeaders => "send one Authorization header, not several",
            Self::Empty => {
                "the Authorization header is empty; send `Authorization: Bearer <token>`"
            }
            Self::NonAscii => "the Authorization header contains non-ASCII bytes",
            Self::OtherScheme => {
                "the Authorization header uses a scheme other than Bearer; send `Authorization: Bearer <token>`"
            }
            Self::MissingToken => "the bearer token is empty",
            Self::TrailingData => "the Authorization header has data after the bearer token",
            Self::InvalidToken => {
                "the bearer token contains a character that is not allowed in a bearer token"
            }
        }
    }
}

impl fmt::Display for MalformedBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for MalformedBearer {}

/// Reads the bearer token from the request headers: `Ok(None)` when there is no
/// `Authorization` header at all.
///
/// # Errors
///
/// Returns the [`MalformedBearer`] reason when the request has several `Authorization`
/// headers or one that is not a bearer credential.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<UserToken>, MalformedBearer> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(MalformedBearer::MultipleHeaders);
    }
    parse_bearer(value.as_bytes()).map(|token| Some(UserToken::from(token)))
}

/// Parses one `Authorization` header value and returns the token it carries.
///
/// # Errors
///
/// Returns the [`MalformedBearer`] reason when the value is not `Bearer <token>`.
pub fn parse_bearer(value: &[u8]) -> Result<&str, MalformedBearer> {
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|value| value.is_ascii())
        .ok_or(MalformedBearer::NonAscii)?;
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(MalformedBearer::Empty);
    }

    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(MalformedBearer::OtherScheme);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(MalformedBearer::MissingToken);
    }
    if token.contains(' ') {
        return Err(MalformedBearer::TrailingData);
    }
    if !is_b64token(token) {
        return Err(MalformedBearer::InvalidToken);
    }
    Ok(token)
}

/// Checks RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl";

    #[test]
    fn parse_table() {
        let cases: &[(&[u8], Result<&str, MalformedBearer>)] = &[
            (b"Bearer abc", Ok("abc")),
            (b"bearer abc", Ok("abc")),
            (b"BEARER abc", Ok("abc")),
            (b"bEaReR abc", Ok("abc")),
            (b"Bearer   abc", Ok("abc")),
            (b"  Bearer abc \t", Ok("abc")),
            (b"Bearer a-b.c_d~e+f/g", Ok("a-b.c_d~e+f/g")),
            (b"Bearer abc==", Ok("abc==")),
            (b"", Err(MalformedBearer::Empty)),
            (b"   ", Err(MalformedBearer::Empty)),
            (b"Bearer", Err(MalformedBearer::MissingToken)),
            (b"Bearer ", Err(MalformedBearer::MissingToken)),
            (b"Bearer    ", Err(MalformedBearer::MissingToken)),
            (b"Bearer abc def", Err(MalformedBearer::TrailingData)),
            (b"Bearer abc  def", Err(MalformedBearer::TrailingData)),
            (b"Basic dXNlcjpwYXNz", Err(MalformedBearer::OtherScheme)),
            (b"Token abc", Err(MalformedBearer::OtherScheme)),
            (b"Bearerabc", Err(MalformedBearer::OtherScheme)),
            (b"Bearer\tabc", Err(MalformedBearer::OtherScheme)),
            (b"abc", Err(MalformedBearer::OtherScheme)),
            (b"Bearer =", Err(MalformedBearer::InvalidToken)),
            (b"Bearer a=b", Err(MalformedBearer::InvalidToken)),
            (b"Bearer ab,c", Err(MalformedBearer::InvalidToken)),
            (b"Bearer a\"b", Err(MalformedBearer::InvalidToken)),
            (b"Bearer a\tb", Err(MalformedBearer::InvalidToken)),
            (b"Bearer t\xc3\xb6k", Err(MalformedBearer::NonAscii)),
            (b"Bearer \xff", Err(MalformedBearer::NonAscii)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_bearer(input),
                *expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn jwt_is_accepted() {
        assert_eq!(parse_bearer(format!("Bearer {JWT}").as_bytes()), Ok(JWT));
    }

    #[test]
    fn headers_without_authorization() {
        assert_eq!(bearer_token(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn headers_with_one_authorization() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        let token = bearer_token(&headers).unwrap().unwrap();
        assert_eq!(token.expose_secret(), "abc");
    }

    #[test]
    fn headers_with_two_authorizations() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(
            bearer_token(&headers),
            Err(MalformedBearer::MultipleHeaders)
        );
    }

    #[test]
    fn messages_never_repeat_the_header() {
        let secret = "Basic c2VjcmV0LXBhc3N3b3Jk";
        let error = parse_bearer(secret.as_bytes()).unwrap_err();
        assert!(!error.message().contains("c2VjcmV0"));
    }

    fn b64token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._~+/-]{1,64}={0,3}"
    }

    fn bearer_scheme() -> impl Strategy<Value = String> {
        "[bB][eE][aA][rR][eE][rR]"
    }

    proptest! {
        #[test]
        fn parse_never_panics(value in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_bearer(&value);
        }

        #[test]
        fn valid_tokens_round_trip(
            scheme in bearer_scheme(),
            spaces in 1usize..4,
            token in b64token(),
        ) {
            let header = format!("{scheme}{}{token}", " ".repeat(spaces));
            prop_assert_eq!(parse_bearer(header.as_bytes()), Ok(token.as_str()));
        }

        #[test]
        fn accepted_tokens_reparse_identically(value in "[ -~]{0,80}") {
            if let Ok(token) = parse_bearer(value.as_bytes()) {
                let canonical = format!("Bearer {token}");
                prop_assert_eq!(parse_bearer(canonical.as_bytes()), Ok(token));
                prop_assert!(is_b64token(token));
            }
        }
    }
}
