//! Redirect URIs: which ones a client may register, and whether a requested one matches a
//! registered one.

use url::{Host, Url};

use super::oauth_error::excerpt;

/// The maximum length of a redirect URI a client may register, in bytes.
pub(crate) const MAX_REDIRECT_URI_BYTES: usize = 2048;

/// Loopback hosts, written as they appear in a URL, on which plain `http` is allowed and the
/// port is not compared (RFC 8252, sections 7.3 and 8.3).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Schemes that a browser runs, shows as a document or fetches from the network itself. A
/// redirect URI with one of them would hand the code to a page or a server, not to a native
/// client, so none is accepted as a private-use scheme.
const BROWSER_SCHEMES: [&str; 12] = [
    "about",
    "blob",
    "data",
    "file",
    "filesystem",
    "ftp",
    "http",
    "javascript",
    "vbscript",
    "view-source",
    "ws",
    "wss",
];

/// Checks that a client may register `uri`.
///
/// The URI is absolute, at most [`MAX_REDIRECT_URI_BYTES`] long, without spaces, control
/// characters, user name, password or fragment. It uses `https`, `http` on `localhost`,
/// `127.0.0.1` or `[::1]`, or a private-use scheme of a native app (RFC 8252, section 7.1),
/// such as `cursor://anysphere.cursor-mcp/oauth/callback`: any scheme but those in
/// [`BROWSER_SCHEMES`]. PKCE binds the code to the client that started the flow, which is
/// what protects a private-use scheme that another app also claims.
///
/// # Errors
///
/// Returns a description of the first problem, for an `invalid_redirect_uri` error.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_REDIRECT_URI_BYTES {
        return Err(format!(
            "a redirect URI is {} bytes long, more than the maximum of {MAX_REDIRECT_URI_BYTES}",
            uri.len()
        ));
    }
    let uri_excerpt = excerpt(uri);
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the redirect URI {uri_excerpt:?} contains a space or control character"
        ));
    }
    let url = Url::parse(uri).map_err(|error| {
        format!("the redirect URI {uri_excerpt:?} is not an absolute URL ({error})")
    })?;
    if url.fragment().is_some() {
        return Err(format!(
            "the redirect URI {uri_excerpt:?} must not contain a fragment"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a redirect URI must not contain a user name or password".to_owned());
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(host)) if is_loopback(&host) => Ok(()),
        (scheme, _) if !BROWSER_SCHEMES.contains(&scheme) && scheme != "https" => Ok(()),
        _ => Err(format!(
            "the redirect URI {uri_excerpt:?} must use https, http on localhost, 127.0.0.1 or \
             [::1], or a native app's private-use scheme"
        )),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => *domain == "localhost",
        Host::Ipv4(address) => address.octets() == [127, 0, 0, 1],
        Host::Ipv6(address) => address.segments() == [0, 0, 0, 0, 0, 0, 0, 1],
    }
}

/// Checks whether `requested` matches the `registered` redirect URI.
///
/// The strings must be equal, except that for a registered `http` URI on `localhost`,
/// `127.0.0.1` or `[::1]` the port is not compared (RFC 8252, section 7.3): native clients
/// listen on a port the system picks when the flow starts. So `http://127.0.0.1:33418/cb`
/// matches `http://127.0.0.1:40001/cb` and `http://127.0.0.1/cb`, but
/// `https://app.example/cb` does not match `https://app.example:8443/cb`, and no other
/// difference (case, a trailing slash, a query, percent-encoding) is ever ignored. A requested
/// loopback port outside 1 to 65535 matches nothing, because no browser can follow it.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(requested)) {
        (Some((registered_host, registered_rest)), Some((requested_host, requested_rest))) => {
            registered_host == requested_host && registered_rest == requested_rest
        }
        _ => false,
    }
}

/// Splits an `http` URI on a loopback host into its host and everything after the authority,
/// dropping the port. Returns `None` for any other URI, or when the port is not a number from
/// 1 to 65535, which no browser could be redirected to.
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_end);
    let host = LOOPBACK_HOSTS.into_iter().find(|host| {
        authority.strip_prefix(host).is_some_and(|port| {
            port.is_empty() || port.strip_prefix(':').is_some_and(is_valid_port)
        })
    })?;
    Some((host, after))
}

/// Checks that `digits` is a port number from 1 to 65535, written in ASCII digits only.
fn is_valid_port(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u16>().is_ok_and(|port| port != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_uris() {
        for uri in [
            "https://app.example/callback",
            "https://app.example:8443/cb?x=1",
            "http://localhost:53123/callback",
            "http://127.0.0.1:33418/",
            "http://[::1]:1/cb",
            "http://127.0.0.1/cb",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/oauth2redirect/example-provider",
        ] {
            assert_eq!(check_redirect_uri(uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn rejected_uris() {
        for (uri, expected) in [
            (
                "http://localhost.evil.example:51353/callback",
                "must use https",
            ),
            ("http://example.com/cb", "must use https"),
            ("http://127.0.0.2/cb", "must use https"),
            ("javascript:alert(1)", "must use https"),
            ("JavaScript:alert(1)", "must use https"),
            ("data:text/html,<script>alert(1)</script>", "must use https"),
            ("file:///etc/passwd", "must use https"),
            ("vbscript:msgbox", "must use https"),
            ("wss://app.example/cb", "must use https"),
            ("cursor://anysphere.cursor-mcp/cb#frag", "fragment"),
            ("https://app.example/cb#frag", "fragment"),
            ("https://app.example/cb#", "fragment"),
            ("https://user:pw@app.example/cb", "user name or password"),
            ("/callback", "not an absolute URL"),
            ("https://app.example/c b", "space or control"),
            (" https://app.example/cb", "space or control"),
            ("https://app.example/cb\n", "space or control"),
        ] {
            let error = check_redirect_uri(uri).unwrap_err();
            assert!(error.contains(expected), "{uri}: {error}");
        }
    }

    #[test]
    fn long_uri_rejected() {
        let uri = format!("https://app.example/{}", "a".repeat(MAX_REDIRECT_URI_BYTES));
        let error = check_redirect_uri(&uri).unwrap_err();
        assert!(error.contains("maximum"), "{error}");
    }

    #[test]
    fn exact_match() {
        assert!(redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
    }

    #[test]
    fn loopback_port_ignored() {
        assert!(redirect_uri_matches(
            "http://127.0.0.1:33418/",
            "http://127.0.0.1:40001/"
        ));
        assert!(redirect_uri_matches(
            "http://localhost:53123/callback",
            "http://localhost:1/callback"
        ));
        assert!(redirect_uri_matches("http://[::1]/cb", "http://[::1]:9/cb"));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:9/cb",
            "http://127.0.0.1/cb"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:9/cb",
            "http://127.0.0.1:65535/cb"
        ));
    }

    #[test]
    fn other_differences_compared() {
        for (registered, requested) in [
            ("https://app.example/cb", "https://app.example:8443/cb"),
            ("https://app.example/cb", "https://APP.example/cb"),
            ("https://app.example/cb", "https://app.example/cb/"),
            ("https://app.example/cb", "https://app.example/cb?x=1"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:40001/other"),
            ("http://127.0.0.1:33418/", "http://localhost:33418/"),
            ("http://127.0.0.1:33418/", "https://127.0.0.1:33418/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:40001/?x"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:4x/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:65536/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:99999/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:0/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:+80/"),
            (
                "http://localhost:53123/cb",
                "http://localhost:999999999999999999999/cb",
            ),
            (
                "http://127.0.0.1:33418/",
                "http://127.0.0.1.evil.example:33418/",
            ),
            (
                "http://localhost:53123/cb",
                "http://localhost.evil.example:53123/cb",
            ),
            (
                "http://localhost:53123/cb",
                "http://user@localhost:53123/cb",
            ),
        ] {
            assert!(
                !redirect_uri_matches(registered, requested),
                "{registered} matched {requested}"
            );
        }
    }
}
