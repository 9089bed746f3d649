//! Rules for the provider URL of a retrieve-mode request, checked before any credential is
//! fetched.
//!
//! Path parameters fill `{name}` placeholders with percent-encoded values. The resulting URL
//! must parse, name a host, carry no user name or password, and use `https`. Plain `http` is allowed only for `localhost`,
//! `127.0.0.1` and `[::1]`, so a credential never crosses the network unencrypted. The URL as
//! sent may be at most 65,536 characters long.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::{Host, Url};

use crate::error::Error;
use crate::protocol::base_url::without_userinfo;

/// The maximum length of a provider URL as sent, query included, in characters.
pub const MAX_URL_CHARS: usize = 65_536;

/// Every byte except `A-Z a-z 0-9 _ . - ~` is percent-encoded in a path parameter value, so a
/// value can never add a path segment, a query or a fragment.
const PATH_PARAM_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// The number of characters of a URL quoted in an error message.
const MAX_QUOTED_URL_CHARS: usize = 100;

/// Percent-encodes `value` so that only `A-Z a-z 0-9 _ . - ~` stay literal, which keeps it one
/// path segment.
pub fn encode_path_segment(value: &str) -> String {
    utf8_percent_encode(value, PATH_PARAM_ENCODE_SET).to_string()
}

/// Replaces every `{key}` placeholder in `url` with its percent-encoded value.
///
/// Each value is UTF-8 percent-encoded so that only `A-Z a-z 0-9 _ . - ~` stay literal: a `/`
/// in a value becomes `%2F` and cannot add a path segment. Parameters are applied in order.
/// Placeholders are also checked when `params` is empty.
///
/// # Errors
///
/// Returns [`Error::InvalidRequest`] when a key is not a letter or `_` followed by letters,
/// digits and `_`, or when a placeholder's value is `.` or `..`. It also does so when a
/// `{identifier}` placeholder has no value (the message names it), or when any other `{` or `}`
/// is left in the URL.
pub fn apply_path_params(url: &str, params: &[(String, String)]) -> Result<String, Error> {
    if let Some((key, _)) = params.iter().find(|(key, _)| !is_identifier(key)) {
        return Err(Error::invalid_request(format!(
            "invalid path parameter name {key:?}: use letters, digits and '_', starting with a \
             letter or '_'"
        )));
    }

    let mut resolved = url.to_owned();
    for (key, value) in params {
        let placeholder = format!("{{{key}}}");
        if resolved.contains(&placeholder) {
            if is_dot_segment(value) {
                return Err(Error::invalid_request(format!(
                    "the path parameter `{key}` is `{value}`, which the URL parser resolves as a \
                     dot segment and so sends the request to another path: pass the name of the \
                     resource instead"
                )));
            }
            let encoded = encode_path_segment(value);
            resolved = resolved.replace(&placeholder, &encoded);
        }
    }

    if let Some(name) = find_placeholder(&resolved) {
        return Err(Error::invalid_request(format!(
            "the provider URL still contains the placeholder `{{{name}}}`: pass a value for \
             `{name}` in the path parameters"
        )));
    }
    if resolved.contains(['{', '}']) {
        return Err(Error::invalid_request(format!(
            "the provider URL {} contains a `{{` or `}}` that is not a `{{name}}` placeholder: \
             percent-encode it as %7B or %7D",
            quote_url(&resolved)
        )));
    }
    Ok(resolved)
}

/// Parses and checks a provider URL.
///
/// The URL must parse, have a host, carry no user name or password, and be at most
/// [`MAX_URL_CHARS`] characters once percent-encoded. The scheme must be `https`, or `http`
/// with the host `localhost`, `127.0.0.1` or `[::1]`.
///
/// A user name or password is rejected because the URL is sent to the backend and recorded in
/// the audit row, and because the vault, not the URL, supplies the credential. The Python SDK
/// (alter-sdk 0.29.0) accepts one.
///
/// # Errors
///
/// Returns [`Error::InvalidRequest`] naming the rule that failed. For an `http` URL with any
/// other host, the message names the host and tells the caller to use https. No message
/// repeats a user name or password.
pub fn validate_provider_url(url: &str) -> Result<Url, Error> {
    // This check skips parsing a huge string. Percent-encoding can make the URL longer, so the
    // parsed form is checked again below.
    let input_chars = url.chars().count();
    if input_chars > MAX_URL_CHARS {
        return Err(too_long(input_chars));
    }
    let parsed = Url::parse(url).map_err(|error| {
        Error::invalid_request(format!("invalid provider URL {}: {error}", quote_url(url)))
    })?;
    let Some(host) = parsed.host() else {
        return Err(Error::invalid_request(format!(
            "the provider URL {} has no host",
            quote_url(url)
        )));
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::invalid_request(
            "the provider URL contains a user name or password: remove it, because the vault \
             injects the credential and the URL is recorded in the audit log",
        ));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(Error::invalid_request(format!(
                "the provider URL uses http for host `{host}`: use https, because plain http is \
                 only allowed for localhost, 127.0.0.1 and [::1]"
            )));
        }
        scheme => {
            return Err(Error::invalid_request(format!(
                "the provider URL scheme `{scheme}` is not supported: use https"
            )));
        }
    }
    check_url_length(&parsed)?;
    Ok(parsed)
}

/// Checks that `url`, as it will be sent, is at most [`MAX_URL_CHARS`] characters long.
///
/// Call it again after adding query parameters or injecting a credential into the query.
///
/// # Errors
///
/// Returns [`Error::InvalidRequest`] with the URL's length when it is too long.
pub fn check_url_length(url: &Url) -> Result<(), Error> {
    // A serialized `Url` is ASCII, so its byte length is its character count.
    let length = url.as_str().len();
    if length > MAX_URL_CHARS {
        return Err(too_long(length));
    }
    Ok(())
}

fn too_long(length: usize) -> Error {
    Error::invalid_request(format!(
        "the provider URL is {length} characters long, more than the maximum of {MAX_URL_CHARS}: \
         send large values in the request body"
    ))
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => *domain == "localhost",
        Host::Ipv4(address) => address.octets() == [127, 0, 0, 1],
        Host::Ipv6(address) => address.is_loopback(),
    }
}

/// Returns whether `value` is `.` or `..`. Percent-encoding leaves both unchanged, because `.`
/// is unreserved, so such a value would remove a path segment once the URL is parsed.
fn is_dot_segment(value: &str) -> bool {
    matches!(value, "." | "..")
}

/// Returns whether `text` is a letter or `_` followed by letters, digits and `_`.
fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Returns the name of the first `{identifier}` placeholder in `url`.
fn find_placeholder(url: &str) -> Option<&str> {
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('}') {
            let name = &after[..close];
            if is_identifier(name) {
                return Some(name);
            }
        }
        rest = after;
    }
    None
}

/// Quotes the URL without its query and user information, which may carry a secret, cut to a
/// readable length.
fn quote_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    let without_query = without_userinfo(without_query);
    if without_query.chars().count() <= MAX_QUOTED_URL_CHARS {
        format!("`{without_query}`")
    } else {
        let excerpt: String = without_query.chars().take(MAX_QUOTED_URL_CHARS).collect();
        format!("`{excerpt}…`")
    }
}

#[cfg(test)]
mod tests {
    use percent_encoding::percent_decode_str;
    use proptest::prelude::*;

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn message(error: Error) -> String {
        match error {
            Error::InvalidRequest(message) => message,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn replaces_every_placeholder() {
        let url = apply_path_params(
            "https://api.example.com/users/{user}/items/{item}?owner={user}",
            &params(&[("user", "me"), ("item", "42")]),
        )
        .unwrap();
        assert_eq!(url, "https://api.example.com/users/me/items/42?owner=me");
    }

    #[test]
    fn encodes_values_fully() {
        let url = apply_path_params(
            "https://api.example.com/files/{path}",
            &params(&[("path", "a b/c?d#e&f=g%h_.-~caf\u{e9}{x}")]),
        )
        .unwrap();
        assert_eq!(
            url,
            "https://api.example.com/files/a%20b%2Fc%3Fd%23e%26f%3Dg%25h_.-~caf%C3%A9%7Bx%7D"
        );
    }

    #[test]
    fn encoded_value_is_not_substituted_again() {
        let url = apply_path_params(
            "https://x.example/{a}/{b}",
            &params(&[("a", "{b}"), ("b", "2")]),
        )
        .unwrap();
        assert_eq!(url, "https://x.example/%7Bb%7D/2");
    }

    #[test]
    fn rejects_dot_segment_values() {
        for value in [".", ".."] {
            let error = apply_path_params(
                "https://x.example/repos/{owner}/issues",
                &params(&[("owner", value)]),
            )
            .unwrap_err();
            let text = message(error);
            assert!(
                text.contains(&format!("the path parameter `owner` is `{value}`")),
                "{text}"
            );
        }
        let url = apply_path_params(
            "https://x.example/{a}/{b}/{c}",
            &params(&[("a", "..."), ("b", ".x"), ("c", "%2e%2e")]),
        )
        .unwrap();
        assert_eq!(url, "https://x.example/.../.x/%252e%252e");
    }

    #[test]
    fn unused_params_are_ignored() {
        let url = apply_path_params("https://x.example/a", &params(&[("unused", "v")])).unwrap();
        assert_eq!(url, "https://x.example/a");
    }

    #[test]
    fn rejects_invalid_keys() {
        for key in ["", "1a", "a-b", "a b", "caf\u{e9}", "{a}"] {
            let error = apply_path_params("https://x.example/{a}", &params(&[(key, "v")]));
            let text = message(error.unwrap_err());
            assert!(
                text.contains("invalid path parameter name"),
                "{key}: {text}"
            );
        }
        for key in ["a", "_", "_a1", "A_b_9"] {
            let url = format!("https://x.example/{{{key}}}");
            assert!(
                apply_path_params(&url, &params(&[(key, "v")])).is_ok(),
                "{key}"
            );
        }
    }

    #[test]
    fn names_missing_placeholder() {
        let error = apply_path_params(
            "https://x.example/{user}/{item_id}",
            &params(&[("user", "me")]),
        )
        .unwrap_err();
        let text = message(error);
        assert!(text.contains("`{item_id}`"), "{text}");
        assert!(text.contains("pass a value for `item_id`"), "{text}");
    }

    #[test]
    fn checks_placeholders_without_params() {
        let text = message(apply_path_params("https://x.example/{id}", &[]).unwrap_err());
        assert!(text.contains("`{id}`"), "{text}");
    }

    #[test]
    fn rejects_stray_braces() {
        for url in [
            "https://x.example/{",
            "https://x.example/}",
            "https://x.example/{}",
            "https://x.example/{1}",
            "https://x.example/{a b}",
        ] {
            let text = message(apply_path_params(url, &[]).unwrap_err());
            assert!(text.contains("not a `{name}` placeholder"), "{url}: {text}");
        }
    }

    #[test]
    fn placeholder_found_after_stray_brace() {
        assert_eq!(find_placeholder("a{b{c}"), Some("c"));
        assert_eq!(find_placeholder("{1}{x}"), Some("x"));
        assert_eq!(find_placeholder("{}"), None);
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        for url in [
            "https://api.example.com/v1",
            "https://api.example.com:8443/v1?q=1",
            "http://localhost:8080/x",
            "http://LOCALHOST/x",
            "http://127.0.0.1:3000/",
            "http://[::1]:3000/",
        ] {
            let parsed = validate_provider_url(url);
            assert!(parsed.is_ok(), "{url}: {parsed:?}");
        }
    }

    #[test]
    fn rejects_http_on_public_host() {
        let text = message(validate_provider_url("http://api.example.com/v1").unwrap_err());
        assert!(text.contains("use https"), "{text}");
        assert!(text.contains("`api.example.com`"), "{text}");

        for url in [
            "http://localhost.example.com/",
            "http://127.0.0.2/",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost./",
        ] {
            let text = message(validate_provider_url(url).unwrap_err());
            assert!(text.contains("use https"), "{url}: {text}");
        }
    }

    #[test]
    fn rejects_other_schemes_and_missing_host() {
        let text = message(validate_provider_url("ftp://files.example.com/a").unwrap_err());
        assert!(text.contains("scheme `ftp`"), "{text}");
        let text = message(validate_provider_url("mailto:a@example.com").unwrap_err());
        assert!(text.contains("has no host"), "{text}");
        let text = message(validate_provider_url("/relative/path").unwrap_err());
        assert!(text.contains("invalid provider URL"), "{text}");
        let text = message(validate_provider_url("https://x.example:99999/").unwrap_err());
        assert!(text.contains("invalid provider URL"), "{text}");
    }

    #[test]
    fn parse_error_hides_query() {
        let text = message(validate_provider_url("https://exa mple.com/?key=SECRET").unwrap_err());
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn rejects_userinfo() {
        for url in [
            "https://user:hunter2@api.example.com/v1",
            "https://hunter2@api.example.com/v1",
            "https://:hunter2@api.example.com/v1",
            "https://api.example.com@evil.example/v1",
            "http://hunter2@localhost:8080/v1",
        ] {
            let text = message(validate_provider_url(url).unwrap_err());
            assert!(text.contains("user name or password"), "{url}: {text}");
            assert!(!text.contains("hunter2"), "{url}: {text}");
        }
    }

    #[test]
    fn parse_error_hides_userinfo() {
        let text =
            message(validate_provider_url("https://user:hunter2@exa mple.com/").unwrap_err());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("`https://***@exa mple.com/`"), "{text}");
    }

    #[test]
    fn length_limit() {
        let base = "https://x.example/";
        let exact = format!("{base}{}", "a".repeat(MAX_URL_CHARS - base.len()));
        assert!(validate_provider_url(&exact).is_ok());

        let over = format!("{base}{}", "a".repeat(MAX_URL_CHARS - base.len() + 1));
        let text = message(validate_provider_url(&over).unwrap_err());
        assert!(text.contains("65537 characters"), "{text}");

        // Each space becomes `%20` when the URL is encoded, so the encoded form is too long.
        let spaces = format!("{base}{}x", " ".repeat(30_000));
        let text = message(validate_provider_url(&spaces).unwrap_err());
        assert!(text.contains("90019 characters"), "{text}");
    }

    #[test]
    fn length_checked_after_query_added() {
        let mut url = validate_provider_url("https://x.example/").unwrap();
        assert!(check_url_length(&url).is_ok());
        url.query_pairs_mut()
            .append_pair("q", &"a".repeat(MAX_URL_CHARS));
        assert!(check_url_length(&url).is_err());
    }

    proptest! {
        #[test]
        fn path_params_never_panic(
            url in ".{0,60}",
            pairs in prop::collection::vec((".{0,8}", ".{0,16}"), 0..4),
        ) {
            let _ = apply_path_params(&url, &pairs);
        }

        #[test]
        fn path_param_values_roundtrip(
            first in any::<String>(),
            second in any::<String>(),
        ) {
            prop_assume!(!is_dot_segment(&first) && !is_dot_segment(&second));
            let url = apply_path_params(
                "https://api.example.com/{first}/x/{second}",
                &[("first".into(), first.clone()), ("second".into(), second.clone())],
            )
            .unwrap();
            let path = url.strip_prefix("https://api.example.com/").unwrap();
            let segments: Vec<&str> = path.split('/').collect();
            prop_assert_eq!(segments.len(), 3);
            prop_assert!(
                path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-~%/".contains(&b))
            );
            prop_assert_eq!(percent_decode_str(segments[0]).decode_utf8().unwrap(), first);
            prop_assert_eq!(percent_decode_str(segments[2]).decode_utf8().unwrap(), second);
            prop_assert!(validate_provider_url(&url).is_ok());
        }

        #[test]
        fn validation_never_panics(url in ".{0,80}") {
            let _ = validate_provider_url(&url);
        }

        #[test]
        fn http_public_domains_rejected(label in "[a-z][a-z0-9]{0,15}", tld in "[a-z]{2,6}") {
            let host = format!("{label}.{tld}");
            let error = validate_provider_url(&format!("http://{host}/x")).unwrap_err();
            let text = message(error);
            prop_assert!(text.contains(&format!("`{host}`")), "{}", text);
            let https = format!("https://{host}/x");
            prop_assert!(validate_provider_url(&https).is_ok());
        }
    }
}
