//! The validated configuration of the authorization server: its URLs, scopes, providers and
//! lifetimes.

use std::time::Duration;

use url::Url;

use crate::protocol::base_url::is_loopback_host;

/// The path of protected resource metadata (RFC 9728) at the origin's root.
pub(crate) const PRM_ROOT_PATH: &str = "/.well-known/oauth-protected-resource";
/// The path of authorization server metadata (RFC 8414) at the origin's root.
pub(crate) const AS_METADATA_ROOT_PATH: &str = "/.well-known/oauth-authorization-server";

/// The paths of the endpoints, at the root of the issuer's origin.
pub(crate) const AUTHORIZE_PATH: &str = "/authorize";
/// See [`AUTHORIZE_PATH`].
pub(crate) const TOKEN_PATH: &str = "/token";
/// See [`AUTHORIZE_PATH`].
pub(crate) const REGISTER_PATH: &str = "/register";
/// See [`AUTHORIZE_PATH`].
pub(crate) const REVOKE_PATH: &str = "/revoke";

/// How long each secret the server hands out stays valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lifetimes {
    /// Access tokens.
    pub(crate) access_token: Duration,
    /// Refresh tokens, counted again from each rotation.
    pub(crate) refresh_token: Duration,
    /// Authorization codes, counted from the call to `/authorize`.
    pub(crate) code: Duration,
    /// How long a rotated refresh token may still be presented, each time for a new pair.
    pub(crate) refresh_grace: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: Duration::from_secs(60 * 60),
            refresh_token: Duration::from_secs(24 * 60 * 60),
            code: MAX_CODE_LIFETIME,
            refresh_grace: Duration::from_secs(30),
        }
    }
}

/// The longest an authorization code may live: five minutes from `/authorize`.
pub(crate) const MAX_CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A provider the users connect, with the scopes to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProviderRequest {
    /// The provider's key in the vault, e.g. `github`.
    pub(crate) provider: String,
    /// The scopes to request from the provider.
    pub(crate) scopes: Vec<String>,
}

/// A URL split into its normalised origin and its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SplitUrl {
    /// `scheme://host[:port]`, lower case, without the default port.
    pub(crate) origin: String,
    /// The path, empty when the URL has none, otherwise starting with `/`.
    pub(crate) path: String,
}

impl SplitUrl {
    /// Returns the whole URL.
    pub(crate) fn to_url(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }

    /// Returns `base` followed by the path, for the well-known URLs that RFC 8414 and RFC 9728
    /// build by inserting a well-known path between the host and the path.
    pub(crate) fn well_known_path(&self, base: &str) -> String {
        if self.path.is_empty() || self.path == "/" {
            base.to_owned()
        } else {
            format!("{base}{}", self.path)
        }
    }
}

/// Normalises an MCP or issuer URL: `https`, or `http` on a loopback host; scheme and host in
/// lower case; no user name, password, query or fragment. `what` names the setting in the
/// error message.
pub(crate) fn normalize_url(raw: &str, what: &str) -> Result<SplitUrl, String> {
    let trimmed = raw.trim();
    let url = Url::parse(trimmed).map_err(|error| {
        format!("the {what} {trimmed:?} is not a valid URL ({error}): give an absolute URL like `https://example.com/mcp`")
    })?;
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(format!(
            "the {what} {trimmed:?} has no host: give an absolute URL like `https://example.com/mcp`"
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        _ => {
            return Err(format!(
                "the {what} {trimmed:?} must use https (plain http is allowed only for localhost, \
                 127.0.0.1 and [::1]): use an https URL"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "the {what} must not contain a user name or password: remove the part before `@`"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "the {what} {trimmed:?} must not have a query or fragment: remove the part from `?` or `#`"
        ));
    }
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let path = if has_explicit_path(trimmed) {
        url.path().to_owned()
    } else {
        String::new()
    };
    Ok(SplitUrl { origin, path })
}

/// Checks whether `raw` writes a path after its authority, even a lone `/`. The parser adds `/`
/// to every http URL, and the resource string must stay byte-identical to what the user gave.
fn has_explicit_path(raw: &str) -> bool {
    let after_scheme = raw.find("://").map_or(raw, |index| &raw[index + 3..]);
    after_scheme.contains('/')
}

/// Checks that `scope` is a valid OAuth scope token (RFC 6749, section 3.3): non-empty, of
/// printable ASCII without space, `"` and `\`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The configuration [`McpAuth`](super::McpAuth) runs with, validated by the builder.
#[derive(Clone, Debug)]
pub(crate) struct AuthConfig {
    /// The MCP endpoint URL, which is the protected resource.
    pub(crate) resource: SplitUrl,
    /// The issuer, by default the resource URL.
    pub(crate) issuer: SplitUrl,
    /// The scopes clients may request; the default set when a client names none.
    pub(crate) scopes: Vec<String>,
    /// The providers users connect.
    #[allow(
        dead_code,
        reason = "read by the sign-in flow; remove this once it is merged"
    )]
    pub(crate) providers: Vec<ProviderRequest>,
    /// The lifetimes of codes and tokens.
    pub(crate) lifetimes: Lifetimes,
}

impl AuthConfig {
    /// Returns the resource URL, byte-identical everywhere it appears.
    pub(crate) fn resource_url(&self) -> String {
        self.resource.to_url()
    }

    /// Returns the issuer URL, byte-identical everywhere it appears.
    pub(crate) fn issuer_url(&self) -> String {
        self.issuer.to_url()
    }

    /// Returns the URL of an endpoint at the root of the issuer's origin.
    pub(crate) fn endpoint_url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.origin)
    }

    /// Returns the URL of the protected resource metadata that the 401 challenge names.
    pub(crate) fn resource_metadata_url(&self) -> String {
        format!(
            "{}{}",
            self.resource.origin,
            self.resource.well_known_path(PRM_ROOT_PATH)
        )
    }

    /// Checks a client's `resource` parameter (RFC 8707) against the resource.
    ///
    /// Scheme and host compare case-insensitively and a default port may be written or not,
    /// as in any URL. A single trailing slash is ignored on either side, so
    /// `https://example.com/mcp/` names the resource `https://example.com/mcp` and the other
    /// way round. The path is otherwise compared exactly.
    pub(crate) fn resource_matches(&self, requested: &str) -> bool {
        let Ok(requested) = normalize_url(requested, "resource") else {
            return false;
        };
        let requested = requested.to_url();
        let resource = self.resource_url();
        let without_slash = |url: &str| url.strip_suffix('/').unwrap_or(url).to_owned();
        without_slash(&requested) == without_slash(&resource)
    }

    /// Returns the scopes as one space-separated string.
    pub(crate) fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }
}

/// Returns the configuration of an MCP endpoint at `http://127.0.0.1:8000/mcp` with the
/// scopes `mcp` and `admin`, for unit tests.
#[cfg(test)]
pub(crate) fn test_config() -> AuthConfig {
    let resource = normalize_url("http://127.0.0.1:8000/mcp", "MCP URL").unwrap();
    AuthConfig {
        issuer: resource.clone(),
        resource,
        scopes: vec!["mcp".to_owned(), "admin".to_owned()],
        providers: Vec::new(),
        lifetimes: Lifetimes::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_default_port() {
        let url = normalize_url(" HTTPS://Example.COM:443/Mcp ", "MCP URL").unwrap();
        assert_eq!(url.origin, "https://example.com");
        assert_eq!(url.path, "/Mcp");
        assert_eq!(url.to_url(), "https://example.com/Mcp");
    }

    #[test]
    fn keeps_port_and_path_as_given() {
        let url = normalize_url("http://127.0.0.1:8000/mcp/", "MCP URL").unwrap();
        assert_eq!(url.to_url(), "http://127.0.0.1:8000/mcp/");
        let url = normalize_url("http://[::1]:8000", "MCP URL").unwrap();
        assert_eq!(url.to_url(), "http://[::1]:8000");
        assert_eq!(url.path, "");
    }

    #[test]
    fn accepts_loopback_http() {
        for raw in [
            "http://localhost:8000/mcp",
            "http://127.0.0.1/mcp",
            "http://[::1]:1/mcp",
        ] {
            assert!(normalize_url(raw, "MCP URL").is_ok(), "{raw}");
        }
    }

    #[test]
    fn rejects_plain_http_elsewhere() {
        for raw in [
            "http://example.com/mcp",
            "http://localhost.evil.example/mcp",
            "http://127.0.0.2/mcp",
            "ftp://localhost/mcp",
        ] {
            let error = normalize_url(raw, "MCP URL").unwrap_err();
            assert!(error.contains("must use https"), "{raw}: {error}");
        }
    }

    #[test]
    fn rejects_query_fragment_and_credentials() {
        let error = normalize_url("https://example.com/mcp?x=1", "MCP URL").unwrap_err();
        assert!(error.contains("query or fragment"), "{error}");
        let error = normalize_url("https://example.com/mcp#top", "MCP URL").unwrap_err();
        assert!(error.contains("query or fragment"), "{error}");
        let error = normalize_url("https://user:pw@example.com/mcp", "MCP URL").unwrap_err();
        assert!(error.contains("user name or password"), "{error}");
        assert!(!error.contains("pw"), "{error}");
    }

    #[test]
    fn rejects_relative_url() {
        let error = normalize_url("/mcp", "MCP URL").unwrap_err();
        assert!(error.contains("not a valid URL"), "{error}");
    }

    #[test]
    fn well_known_paths() {
        let url = normalize_url("https://example.com/public/mcp", "MCP URL").unwrap();
        assert_eq!(
            url.well_known_path(PRM_ROOT_PATH),
            "/.well-known/oauth-protected-resource/public/mcp"
        );
        let root = normalize_url("https://example.com", "issuer").unwrap();
        assert_eq!(
            root.well_known_path(AS_METADATA_ROOT_PATH),
            AS_METADATA_ROOT_PATH
        );
    }

    #[test]
    fn resource_trailing_slash_ignored() {
        let config = test_config();
        for requested in [
            "http://127.0.0.1:8000/mcp",
            "http://127.0.0.1:8000/mcp/",
            "HTTP://127.0.0.1:8000/mcp",
        ] {
            assert!(config.resource_matches(requested), "{requested}");
        }
        for requested in [
            "http://127.0.0.1:8000/mcp//",
            "http://127.0.0.1:8000/MCP",
            "http://127.0.0.1:8001/mcp",
            "http://other.example/mcp",
            "http://127.0.0.1:8000/mcp?x=1",
            "http://127.0.0.1:8000/mcp#x",
            "http://127.0.0.1:8000",
            "mcp",
            "",
        ] {
            assert!(!config.resource_matches(requested), "{requested}");
        }
    }

    #[test]
    fn resource_with_slash_matches_without() {
        let mut config = test_config();
        config.resource = normalize_url("http://127.0.0.1:8000/mcp/", "MCP URL").unwrap();
        assert!(config.resource_matches("http://127.0.0.1:8000/mcp"));
        assert!(config.resource_matches("http://127.0.0.1:8000/mcp/"));
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("mcp"));
        assert!(is_scope_token("repo:read"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("é"));
    }
}
