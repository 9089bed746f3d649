//! OAuth 2.0 providers: their configuration, and the client side of the authorization-code flow
//! with PKCE (authorization URL, code exchange, refresh, account lookup).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;
use url::form_urlencoded;

use super::form;
use super::secret::Secret;
use super::wire;

const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_PROVIDER_ID_LEN: usize = 64;

/// An OAuth 2.0 provider that DevVault connects users to.
///
/// DevVault runs the authorization-code flow with PKCE (S256) against it: the hosted connect
/// page redirects to `authorization_url` with `redirect_uri` set to
/// `<DevVault base URL>/connect/callback`, and the code is exchanged at `token_url`. Register
/// that callback URL with the provider, and start DevVault on a fixed address so it does not
/// change between runs.
///
/// ```
/// use alter::dev::ProviderConfig;
///
/// let github = ProviderConfig::new(
///     "github",
///     "https://github.com/login/oauth/authorize",
///     "https://github.com/login/oauth/access_token",
///     "Iv1.0123456789abcdef",
/// )
/// .client_secret("…")
/// .scopes(["repo", "read:user"])
/// .userinfo("https://api.github.com/user", "login");
/// ```
#[derive(Clone)]
pub struct ProviderConfig {
    pub(super) id: String,
    pub(super) display_name: Option<String>,
    pub(super) authorization_url: String,
    pub(super) token_url: String,
    pub(super) client_id: String,
    pub(super) client_secret: Option<Secret>,
    pub(super) client_secret_basic: bool,
    pub(super) scopes: Vec<String>,
    pub(super) userinfo: Option<UserInfo>,
    pub(super) injection_header: String,
    pub(super) injection_format: String,
    pub(super) authorization_params: Vec<(String, String)>,
    pub(super) send_login_hint: bool,
}

/// The user-info endpoint that supplies the account identifier of a new grant.
#[derive(Clone, Debug)]
pub(super) struct UserInfo {
    pub(super) url: String,
    /// Dot-separated path of the field in the JSON response, e.g. `email` or `data.login`.
    pub(super) field: String,
}

impl ProviderConfig {
    /// Creates a provider with its id (what `/sdk/token` requests name), its two OAuth
    /// endpoints and the client id registered there.
    ///
    /// By default the provider has no client secret (a public client), requests no scopes,
    /// records no account identifier, and its token is injected as
    /// `Authorization: Bearer {token}`.
    pub fn new(
        id: impl Into<String>,
        authorization_url: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            display_name: None,
            authorization_url: authorization_url.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: None,
            client_secret_basic: false,
            scopes: Vec::new(),
            userinfo: None,
            injection_header: wire::DEFAULT_INJECTION_HEADER.to_owned(),
            injection_format: wire::DEFAULT_INJECTION_FORMAT.to_owned(),
            authorization_params: Vec::new(),
            send_login_hint: false,
        }
    }

    /// Sets the name shown on the connect page; the id by default.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the client secret, sent in the token request body (`client_secret_post`).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(Secret::new(secret));
        self
    }

    /// Sends the client id and secret in an HTTP Basic `Authorization` header
    /// (`client_secret_basic`) instead of the request body.
    pub fn client_secret_basic(mut self) -> Self {
        self.client_secret_basic = true;
        self
    }

    /// Sets the scopes requested on every connect; a session's `required_scopes` add to them.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Reads the account identifier of a new grant from a JSON user-info endpoint, called with
    /// the new access token as a bearer token. `field` is a dot-separated path such as `email`
    /// or `data.login`.
    pub fn userinfo(mut self, url: impl Into<String>, field: impl Into<String>) -> Self {
        self.userinfo = Some(UserInfo {
            url: url.into(),
            field: field.into(),
        });
        self
    }

    /// Sets how the provider token is injected into provider requests: the header name and a
    /// format in which `{token}` stands for the access token, e.g. `("X-Api-Key", "{token}")`.
    pub fn injection(mut self, header: impl Into<String>, format: impl Into<String>) -> Self {
        self.injection_header = header.into();
        self.injection_format = format.into();
        self
    }

    /// Adds a query parameter to the authorization request, e.g. Google's
    /// `("access_type", "offline")`.
    pub fn authorization_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.authorization_params.push((name.into(), value.into()));
        self
    }

    /// Sends the DevVault user name as `login_hint` in the authorization request.
    pub fn login_hint(mut self) -> Self {
        self.send_login_hint = true;
        self
    }

    /// Returns the provider id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// Lists every problem with this configuration, each naming the provider and the setting.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let id = &self.id;
        let id_ok = !id.is_empty()
            && id.len() <= MAX_PROVIDER_ID_LEN
            && id
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        if !id_ok {
            problems.push(format!(
                "provider id {id:?} must be 1 to {MAX_PROVIDER_ID_LEN} characters from a-z, \
                 0-9, '_' and '-'"
            ));
        }
        let endpoints = [
            ("authorization URL", Some(&self.authorization_url)),
            ("token URL", Some(&self.token_url)),
            (
                "user-info URL",
                self.userinfo.as_ref().map(|info| &info.url),
            ),
        ];
        for (what, url) in endpoints {
            if let Some(url) = url
                && !is_http_url(url)
            {
                problems.push(format!(
                    "provider {id:?}: the {what} {url:?} must be an absolute http or https URL"
                ));
            }
        }
        if self.client_id.is_empty() {
            problems.push(format!("provider {id:?}: the client id is empty"));
        }
        if self
            .scopes
            .iter()
            .any(|scope| scope.is_empty() || scope.contains(char::is_whitespace))
        {
            problems.push(format!(
                "provider {id:?}: every scope must be non-empty and contain no whitespace"
            ));
        }
        if let Some(problem) = injection_problem(&self.injection_header, &self.injection_format) {
            problems.push(format!("provider {id:?}: {problem}"));
        }
        problems
    }

    /// Builds the URL the browser is sent to for consent.
    pub(super) fn authorization_request(&self, request: &AuthorizationRequest<'_>) -> String {
        let mut url = Url::parse(&self.authorization_url).expect("validated at start-up");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", request.redirect_uri)
                .append_pair("state", request.state)
                .append_pair("code_challenge", &pkce_challenge(request.code_verifier))
                .append_pair("code_challenge_method", "S256");
            if !request.scopes.is_empty() {
                query.append_pair("scope", &request.scopes.join(" "));
            }
            if request.select_account {
                query.append_pair("prompt", "select_account");
            } else if self.send_login_hint {
                query.append_pair("login_hint", request.user);
            }
            for (name, value) in &self.authorization_params {
                query.append_pair(name, value);
            }
        }
        url.into()
    }

    /// Exchanges an authorization code at the token endpoint.
    pub(super) async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
        code_verifier: &Secret,
    ) -> Result<TokenSet, TokenEndpointError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier.expose()),
        ];
        self.token_request(http, &form).await
    }

    /// Exchanges a refresh token for a new access token.
    pub(super) async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &Secret,
    ) -> Result<TokenSet, TokenEndpointError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request(http, &form).await
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> Result<TokenSet, TokenEndpointError> {
        let (body, authorization) = self.token_request_body(form);
        let mut request = http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }

        tracing::trace!(
            target: "alter::dev::provider",
            provider = %self.id,
            url = %self.token_url,
            grant_type = form[0].1,
            "calling the provider's token endpoint"
        );
        let response = request
            .body(body)
            .timeout(PROVIDER_TIMEOUT)
            .send()
            .await
            .map_err(|error| TokenEndpointError::Unreachable(without_url(error)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| TokenEndpointError::Unreachable(without_url(error)))?;
        parse_token_response(status.as_u16(), &bytes)
    }

    /// Builds the form body of a token request and, for `client_secret_basic`, the
    /// `Authorization` header value.
    fn token_request_body(&self, form: &[(&str, &str)]) -> (String, Option<String>) {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(form);
        let authorization = match (&self.client_secret, self.client_secret_basic) {
            (Some(secret), true) => {
                let credentials = format!(
                    "{}:{}",
                    form::encode(&self.client_id),
                    form::encode(secret.expose())
                );
                Some(format!("Basic {}", STANDARD.encode(credentials)))
            }
            (Some(secret), false) => {
                body.append_pair("client_id", &self.client_id);
                body.append_pair("client_secret", secret.expose());
                None
            }
            (None, _) => {
                body.append_pair("client_id", &self.client_id);
                None
            }
        };
        (body.finish(), authorization)
    }

    /// Looks up the account identifier with the user-info endpoint, when one is configured.
    pub(super) async fn resolve_account(
        &self,
        http: &reqwest::Client,
        access_token: &Secret,
    ) -> Result<Option<String>, String> {
        let Some(userinfo) = &self.userinfo else {
            return Ok(None);
        };
        let response = http
            .get(&userinfo.url)
            .bearer_auth(access_token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(PROVIDER_TIMEOUT)
            .send()
            .await
            .map_err(|error| format!("user-info request failed: {}", without_url(error)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("user-info endpoint returned HTTP {status}"));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|_| "user-info endpoint returned something other than JSON".to_owned())?;
        let found = userinfo
            .field
            .split('.')
            .try_fold(&body, |value, key| value.get(key));
        Ok(match found {
            Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            _ => None,
        })
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("authorization_url", &self.authorization_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("injection_header", &self.injection_header)
            .finish_non_exhaustive()
    }
}

/// The per-attempt values of one authorization request.
pub(super) struct AuthorizationRequest<'a> {
    pub(super) redirect_uri: &'a str,
    pub(super) state: &'a str,
    pub(super) code_verifier: &'a Secret,
    pub(super) scopes: &'a [String],
    pub(super) user: &'a str,
    /// Asks the provider to let the user choose the account (`prompt=select_account`) instead
    /// of suggesting the user's own with `login_hint`.
    pub(super) select_account: bool,
}

/// A successful token endpoint response.
#[derive(Debug)]
pub(super) struct TokenSet {
    pub(super) access_token: Secret,
    pub(super) refresh_token: Option<Secret>,
    pub(super) expires_in: Option<u64>,
    /// The granted scopes from the `scope` field. When it is absent, the requested ones apply.
    pub(super) scopes: Option<Vec<String>>,
}

/// The failure of a token endpoint call.
#[derive(Debug)]
pub(super) enum TokenEndpointError {
    /// The provider returned an OAuth error such as `invalid_grant`.
    Rejected {
        error: String,
        description: Option<String>,
    },
    /// The provider returned something that is not a token response.
    Malformed(String),
    /// The request did not complete.
    Unreachable(String),
}

impl fmt::Display for TokenEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected {
                error,
                description: Some(description),
            } => write!(f, "the provider returned error {error}: {description}"),
            Self::Rejected { error, .. } => write!(f, "the provider returned error {error}"),
            Self::Malformed(reason) => write!(f, "malformed token response: {reason}"),
            Self::Unreachable(reason) => write!(f, "token endpoint unreachable: {reason}"),
        }
    }
}

/// Generates a PKCE code verifier: 32 random bytes as 43 base64url characters.
pub(super) fn new_code_verifier() -> Secret {
    Secret::random("")
}

/// Computes the S256 PKCE challenge of `verifier`.
pub(super) fn pkce_challenge(verifier: &Secret) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()))
}

fn parse_token_response(status: u16, body: &[u8]) -> Result<TokenSet, TokenEndpointError> {
    // Some providers return form-encoded bodies even when JSON was requested.
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) | Err(_) => form_urlencoded::parse(body)
            .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
            .collect(),
    };
    // GitHub reports errors with HTTP 200 and an `error` field.
    if let Some(error) = object.get("error").and_then(Value::as_str) {
        return Err(TokenEndpointError::Rejected {
            error: error.to_owned(),
            description: object
                .get("error_description")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    if !(200..300).contains(&status) {
        return Err(TokenEndpointError::Malformed(format!(
            "HTTP {status} without an OAuth error code"
        )));
    }
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => Secret::new(token.clone()),
        _ => return Err(TokenEndpointError::Malformed("no access_token".into())),
    };
    let expires_in = match object.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.parse().ok(),
        Some(_) => None,
    }
    .map(|secs: u64| secs.min(wire::MAX_TOKEN_LIFETIME.as_secs()));
    let refresh_token = object
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .map(Secret::new);
    let scopes = object.get("scope").and_then(Value::as_str).map(|scope| {
        // GitHub separates scopes with commas; the standard says spaces.
        scope
            .split([' ', ','])
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect()
    });
    Ok(TokenSet {
        access_token,
        refresh_token,
        expires_in,
        scopes,
    })
}

fn injection_problem(header: &str, format: &str) -> Option<String> {
    let header_ok = !header.is_empty()
        && header.len() <= wire::MAX_INJECTION_HEADER_LEN
        && header.as_bytes()[0].is_ascii_alphabetic()
        && header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !header_ok {
        return Some(format!(
            "injection header {header:?} must be 1 to {} characters from A-Z, a-z, 0-9 and \
             '-', starting with a letter",
            wire::MAX_INJECTION_HEADER_LEN
        ));
    }
    if crate::protocol::token_response::is_forbidden_injection_header(header) {
        return Some(format!(
            "injection header {header:?} is a reserved header name"
        ));
    }
    let format_ok = format.len() <= wire::MAX_INJECTION_FORMAT_LEN
        && !format.contains(['\r', '\n', '\0'])
        && format.contains("{token}");
    if !format_ok {
        return Some(format!(
            "injection format {format:?} must contain {{token}}, have at most {} characters \
             and no line breaks",
            wire::MAX_INJECTION_FORMAT_LEN
        ));
    }
    None
}

fn is_http_url(text: &str) -> bool {
    Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

/// Describes a transport error without its URL, which for some providers carries a secret in
/// the query string.
fn without_url(error: reqwest::Error) -> String {
    error.without_url().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> ProviderConfig {
        ProviderConfig::new(
            "acme",
            "https://auth.example/authorize?tenant=1",
            "https://auth.example/token",
            "client-1",
        )
    }

    #[test]
    fn valid_config_has_no_problems() {
        let config = provider()
            .scopes(["read", "write"])
            .userinfo("https://api.example/me", "email");
        assert!(config.problems().is_empty(), "{:?}", config.problems());
    }

    #[test]
    fn every_problem_is_reported() {
        let config = ProviderConfig::new("Bad Id", "not a url", "ftp://x/token", "")
            .scopes(["has space"])
            .injection("Cookie", "{token}");
        let problems = config.problems();
        assert_eq!(problems.len(), 6, "{problems:?}");
    }

    #[test]
    fn injection_format_needs_token() {
        let config = provider().injection("X-Api-Key", "static");
        assert_eq!(config.problems().len(), 1);
    }

    #[test]
    fn authorization_request_keeps_existing_query() {
        let verifier = Secret::new("verifier-verifier-verifier-verifier-verifier");
        let url = provider()
            .login_hint()
            .authorization_request(&AuthorizationRequest {
                redirect_uri: "http://127.0.0.1:1/connect/callback",
                state: "s1",
                code_verifier: &verifier,
                scopes: &["read".to_owned(), "write".to_owned()],
                user: "alice",
                select_account: false,
            });
        let url = Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("tenant"), Some("1"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("scope"), Some("read write"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(
            get("code_challenge"),
            Some(pkce_challenge(&verifier).as_str())
        );
        assert_eq!(get("login_hint"), Some("alice"));
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_example() {
        let verifier = Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce_challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn token_response_variants() {
        let json = br#"{"access_token":"at","token_type":"bearer","expires_in":"60","refresh_token":"rt","scope":"a,b"}"#;
        let tokens = parse_token_response(200, json).unwrap();
        assert_eq!(tokens.access_token.expose(), "at");
        assert_eq!(tokens.expires_in, Some(60));
        assert_eq!(tokens.refresh_token.unwrap().expose(), "rt");
        assert_eq!(tokens.scopes.unwrap(), ["a", "b"]);

        let form = b"access_token=at2&scope=x%20y";
        let tokens = parse_token_response(200, form).unwrap();
        assert_eq!(tokens.access_token.expose(), "at2");
        assert_eq!(tokens.scopes.unwrap(), ["x", "y"]);
    }

    #[test]
    fn token_lifetime_is_clamped() {
        let huge = format!(r#"{{"access_token":"at","expires_in":{}}}"#, u64::MAX);
        let tokens = parse_token_response(200, huge.as_bytes()).unwrap();
        assert_eq!(tokens.expires_in, Some(wire::MAX_TOKEN_LIFETIME.as_secs()));
    }

    #[test]
    fn token_error_responses() {
        let rejected = parse_token_response(400, br#"{"error":"invalid_grant"}"#).unwrap_err();
        assert!(
            matches!(rejected, TokenEndpointError::Rejected { ref error, .. } if error == "invalid_grant")
        );
        let github =
            parse_token_response(200, br#"{"error":"bad_verification_code"}"#).unwrap_err();
        assert!(matches!(github, TokenEndpointError::Rejected { .. }));
        let empty = parse_token_response(200, b"{}").unwrap_err();
        assert!(matches!(empty, TokenEndpointError::Malformed(_)));
        let server_error = parse_token_response(500, b"oops").unwrap_err();
        assert!(matches!(server_error, TokenEndpointError::Malformed(_)));
    }
}
