//! The backend base URL and its validation.

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
    /// a host and a valid port, and may not carry credentials, a query or a fragment. Trailing
    /// slashes are removed. A path prefix is kept: requests then go to `<prefix>/sdk/…`, while
    /// the signature covers only the `/sdk/…` part.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] naming the rule that failed.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let invalid = |rule: &str| Error::config(format!("invalid base URL `{raw}`: {rule}"));
        if raw.is_empty() {
            return Err(invalid(
                "it is empty; unset ALTER_BASE_URL to use the hosted backend",
            ));
        }
        let trimmed = raw.trim_end_matches('/');
        let url =
            url::Url::parse(trimmed).map_err(|e| invalid(&format!("must be a valid URL ({e})")))?;
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
            url: trimmed.to_owned(),
            plain_http,
        })
    }

    /// Returns the URL as configured, without trailing slashes.
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
    fn credentials_are_not_echoed() {
        let message = BaseUrl::parse("https://user:hunter2@host.example")
            .unwrap_err()
            .to_string();
        assert!(message.contains("user name or password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
