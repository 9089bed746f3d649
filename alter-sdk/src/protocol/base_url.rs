//! The backend base URL and its validation.

use std::borrow::Cow;

use crate::error::Error;

/// The hosted Alter backend.
pub const DEFAULT_BASE_URL: &str = "https://backend.alterauth.com";

/// Environment variable that overrides [`DEFAULT_BASE_URL`].
pub const BASE_URL_ENV: &str = "ALTER_BASE_URL";

/// A validated backend base URL, without trailing slashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    url: String,
    plain_http: bool,
}

impl BaseUrl {
    /// Validates a base URL.
    ///
    /// The URL must be `https`, or plain `http` on `localhost`, `127.0.0.1` or `[::1]`; it needs
    /// a host and a valid port, and may not carry credentials, a query or a fragment. A path
    /// prefix is kept: requests then go to `<prefix>/sdk/…`, while the signature covers only the
    /// `/sdk/…` part.
    ///
    /// The URL is kept in the form it was validated in, so requests go exactly where the checks
    /// looked: parsed by the WHATWG URL rules (surrounding spaces and any tab or newline
    /// dropped, scheme and host lower-cased, IPv4 shorthand expanded, `..` segments resolved),
    /// with trailing slashes removed.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] naming the rule that failed. The message never repeats a user
    /// name or password written into the URL.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let quoted = without_userinfo(raw);
        let invalid = |rule: &str| Error::config(format!("invalid base URL `{quoted}`: {rule}"));
        if raw.is_empty() {
            return Err(invalid(
                "it is empty; unset ALTER_BASE_URL to use the hosted backend",
            ));
        }
        let url =
            url::Url::parse(raw).map_err(|e| invalid(&format!("must be a valid URL ({e})")))?;
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo credentials back, so report without the raw value.
            return Err(Error::config(
                "invalid base URL: it must not contain a user name or password",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not contain a query or fragment"));
        }
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.to_ascii_lowercase(),
            _ => return Err(invalid("it must contain a host")),
        };
        let plain_http = match url.scheme() {
            "https" => false,
            "http" if is_loopback_host(&host) => true,
            "http" => {
                return Err(invalid(&format!(
                    "it must use https; plain http is allowed only for localhost, 127.0.0.1 and [::1], not `{host}`"
                )));
            }
            other => return Err(invalid(&format!("scheme `{other}` is not http or https"))),
        };
        Ok(Self {
            url: url.as_str().trim_end_matches('/').to_owned(),
            plain_http,
        })
    }

    /// Returns the validated URL, without trailing slashes.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Returns whether the URL uses plain http on a loopback host.
    pub fn is_plain_http(&self) -> bool {
        self.plain_http
    }

    /// Joins an SDK path such as `/sdk/token` onto the base URL.
    pub fn join(&self, sdk_path: &str) -> String {
        format!("{}{sdk_path}", self.url)
    }
}

/// Returns `raw` with anything before an `@` in its authority replaced by `***`, so that an
/// error message never repeats a password.
pub(crate) fn without_userinfo(raw: &str) -> Cow<'_, str> {
    let Some(scheme_end) = raw.find("://") else {
        return Cow::Borrowed(raw);
    };
    let authority_start = scheme_end + "://".len();
    let authority_end = raw[authority_start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |offset| authority_start + offset);
    match raw[authority_start..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!(
            "{}***{}",
            &raw[..authority_start],
            &raw[authority_start + at..]
        )),
        None => Cow::Borrowed(raw),
    }
}

/// Returns whether `host` (lower case, IPv6 in brackets or bare) is a loopback name that may use
/// plain http: `localhost`, `127.0.0.1` or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for raw in [
            "https://backend.alterauth.com",
            "https://backend.alterauth.com/",
            "https://host.example/prefix//",
            "http://localhost:8787",
            "http://127.0.0.1:1",
            "http://[::1]:9000/",
            "https://host.example:443",
        ] {
            assert!(BaseUrl::parse(raw).is_ok(), "{raw}");
        }
        assert_eq!(
            BaseUrl::parse("https://h.example/p/").unwrap().as_str(),
            "https://h.example/p"
        );
        assert!(BaseUrl::parse("http://localhost").unwrap().is_plain_http());
    }

    #[test]
    fn rejects_each_rule() {
        let cases = [
            ("", "empty"),
            ("http://backend.alterauth.com", "must use https"),
            ("http://10.0.0.1:80", "must use https"),
            ("ftp://host.example", "scheme `ftp`"),
            ("https://host.example?x=1", "query or fragment"),
            ("https://host.example#frag", "query or fragment"),
            ("https://host.example:99999", "valid URL"),
            ("https://host.example:abc", "valid URL"),
            ("not a url", "valid URL"),
            ("https://", "valid URL"),
        ];
        for (raw, expected) in cases {
            let message = BaseUrl::parse(raw).unwrap_err().to_string();
            assert!(message.contains(expected), "{raw}: {message}");
        }
    }

    #[test]
    fn keeps_the_validated_form() {
        for (raw, expected) in [
            ("HTTP://LOCALHOST:8787/", "http://localhost:8787"),
            (" http://127.0.0.1:8787\n", "http://127.0.0.1:8787"),
            ("http://127.0.\t0.1:8787", "http://127.0.0.1:8787"),
            ("http://127.1:8787", "http://127.0.0.1:8787"),
            (
                "https://Host.Example/a/../prefix/",
                "https://host.example/prefix",
            ),
            (
                "https://backend.alterauth.com",
                "https://backend.alterauth.com",
            ),
        ] {
            assert_eq!(BaseUrl::parse(raw).unwrap().as_str(), expected, "{raw:?}");
        }
    }

    #[test]
    fn unparsable_url_hides_password() {
        let message = BaseUrl::parse("https://user:hunter2@exa mple.com/x")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(
            message.contains("`https://***@exa mple.com/x`"),
            "{message}"
        );
    }

    #[test]
    fn credentials_are_not_echoed() {
        let message = BaseUrl::parse("https://user:hunter2@host.example")
            .unwrap_err()
            .to_string();
        assert!(message.contains("user name or password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
