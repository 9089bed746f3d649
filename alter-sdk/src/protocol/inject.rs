//! Credential injection into the provider request.
//!
//! [`plan_injection`] turns a validated [`TokenResponse`] into the headers and query parameters
//! to set: the `injection_header` with the access token put into `injection_format`, then each
//! additional injection in order. The plan also lists the header names that the audit row must
//! leave out, because their values are credentials.

use std::collections::HashSet;

use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;
use url::form_urlencoded;

use crate::error::Error;
use crate::protocol::token_response::{
    InjectionTarget, ProviderSecret, TOKEN_ENDPOINT, TOKEN_PLACEHOLDER, TokenResponse, ValueSource,
};

/// The headers and query parameters that carry the credential on one provider request.
///
/// `Debug` is safe to log: header values are marked sensitive and query values are redacted.
#[derive(Clone, Debug)]
pub struct Injection {
    headers: Vec<(HeaderName, HeaderValue)>,
    query_params: Vec<(String, ProviderSecret)>,
    audit_excluded_headers: HashSet<HeaderName>,
}

impl Injection {
    /// Returns the headers to set, in order; a later entry replaces an earlier one of the same
    /// name.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Returns the query parameters to set, in order, with their secret values.
    pub fn query_params(&self) -> &[(String, ProviderSecret)] {
        &self.query_params
    }

    /// Returns whether the audit row must leave out the request header `name` (compared
    /// case-insensitively): the injection header and every header-injection key, whether or
    /// not a value was injected for it.
    pub fn is_audit_excluded(&self, name: &str) -> bool {
        HeaderName::from_bytes(name.as_bytes())
            .is_ok_and(|name| self.audit_excluded_headers.contains(&name))
    }

    /// Sets the injected headers on `headers`, replacing any header of the same name that the
    /// caller set, whatever its case.
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }

    /// Adds the injected query parameters to `url`, form-encoded (`+` for a space).
    ///
    /// The query already in the URL is kept, except parameters with the same name as an injected
    /// one, which the injected value replaces. This differs from the Python SDK (alter-sdk
    /// 0.29.0), which drops the URL's whole query whenever it adds a query parameter. Parameters
    /// that stay are kept byte for byte, so their encoding does not change.
    pub fn apply_query(&self, url: &mut Url) {
        if self.query_params.is_empty() {
            return;
        }
        let injected: HashSet<&str> = self
            .query_params
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        if let Some(query) = url.query() {
            let other_segments: Vec<&str> = query
                .split('&')
                .filter(|segment| !injected.contains(decoded_name(segment).as_str()))
                .collect();
            if other_segments.len() != query.split('&').count() {
                let other_query = other_segments.join("&");
                url.set_query((!other_query.is_empty()).then_some(other_query.as_str()));
            }
        }
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &self.query_params {
            pairs.append_pair(name, value.expose_secret());
        }
    }

    fn push_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let header_name = self.exclude_from_audit(name)?;
        let mut header_value = HeaderValue::from_str(value).map_err(|_| {
            Error::malformed(
                TOKEN_ENDPOINT,
                format!(
                    "the credential for header `{name}` contains a character that an HTTP \
                     header value cannot carry, such as a control character"
                ),
            )
        })?;
        header_value.set_sensitive(true);
        self.headers.push((header_name, header_value));
        Ok(())
    }

    fn exclude_from_audit(&mut self, name: &str) -> Result<HeaderName, Error> {
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::malformed(
                TOKEN_ENDPOINT,
                format!("`{name}` is not a valid HTTP header name"),
            )
        })?;
        self.audit_excluded_headers.insert(header_name.clone());
        Ok(header_name)
    }
}

/// Returns the form-decoded name of one `name=value` query segment.
fn decoded_name(segment: &str) -> String {
    let raw_name = segment.split('=').next().unwrap_or_default();
    form_urlencoded::parse(raw_name.as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default()
}

/// Plans how the credential of `token` is injected into the provider request.
///
/// The `injection_header` gets `injection_format` with its first `{token}` replaced by the
/// access token. Each additional injection then reads its value from the access token or from
/// the named additional credential, and sets a header or a query parameter. An injection whose
/// credential is missing or empty is skipped.
///
/// # Errors
///
/// - [`Error::MalformedResponse`] for `/sdk/token` when a value contains a byte that an HTTP
///   header value cannot carry, such as a control character. The message names the header,
///   never the value.
/// - [`Error::InvalidRequest`] when the provider needs AWS Signature V4 signing, which this SDK
///   does not support yet.
pub fn plan_injection(token: &TokenResponse) -> Result<Injection, Error> {
    if token.requires_sigv4() {
        // NOTE: SigV4 signing (AWS access key id as the token, `secret_key`, `session_token`,
        // `region` and `service` from the additional credentials) is not implemented. Such
        // providers are rejected before any request instead of being sent an unsigned one.
        return Err(Error::invalid_request(format!(
            "provider `{}` requires AWS Signature V4 request signing, which this SDK does not \
             support yet: call it in proxy mode instead",
            token.provider_id
        )));
    }

    let mut injection = Injection {
        headers: Vec::with_capacity(1 + token.additional_injections.len()),
        query_params: Vec::new(),
        audit_excluded_headers: HashSet::new(),
    };

    let value =
        token
            .injection_format
            .replacen(TOKEN_PLACEHOLDER, token.access_token.expose_secret(), 1);
    injection.push_header(&token.injection_header, &value)?;

    for rule in &token.additional_injections {
        if rule.target == InjectionTarget::Header {
            injection.exclude_from_audit(&rule.key)?;
        }
        let value = match &rule.value_source {
            ValueSource::Token => Some(&token.access_token),
            ValueSource::AdditionalCredential(name) => token
                .additional_credentials
                .as_ref()
                .and_then(|credentials| credentials.get(name)),
        };
        let Some(value) = value.filter(|value| !value.expose_secret().is_empty()) else {
            continue;
        };
        match rule.target {
            InjectionTarget::Header => injection.push_header(&rule.key, value.expose_secret())?,
            InjectionTarget::QueryParam => injection
                .query_params
                .push((rule.key.clone(), value.clone())),
        }
    }
    Ok(injection)
}

#[cfg(test)]
mod tests {
    use http::header::AUTHORIZATION;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::protocol::token_response::parse_token_response;

    const GRANT_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

    fn token(value: Value) -> TokenResponse {
        parse_token_response(&serde_json::to_vec(&value).unwrap()).unwrap()
    }

    fn acme_token() -> TokenResponse {
        token(json!({
            "access_token": "sk_live_secret",
            "grant_id": GRANT_ID,
            "provider_id": "acme",
            "injection_header": "X-Api-Key",
            "injection_format": "{token}",
            "additional_credentials": {"account_id": "acct_123"},
            "additional_injections": [
                {"target": "query_param", "key": "api_key", "value_source": "token"},
                {"target": "header", "key": "X-Account",
                 "value_source": "additional_credentials.account_id"}
            ]
        }))
    }

    fn header_pairs(injection: &Injection) -> Vec<(String, String)> {
        injection
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn default_bearer_header() {
        let injection = plan_injection(&token(json!({
            "access_token": "ya29.test-access-token",
            "grant_id": GRANT_ID
        })))
        .unwrap();
        assert_eq!(
            header_pairs(&injection),
            [(
                "authorization".to_owned(),
                "Bearer ya29.test-access-token".to_owned()
            )]
        );
        assert!(injection.query_params().is_empty());
        assert!(injection.is_audit_excluded("Authorization"));
        assert!(!injection.is_audit_excluded("User-Agent"));
    }

    #[test]
    fn additional_injections_in_order() {
        let injection = plan_injection(&acme_token()).unwrap();
        assert_eq!(
            header_pairs(&injection),
            [
                ("x-api-key".to_owned(), "sk_live_secret".to_owned()),
                ("x-account".to_owned(), "acct_123".to_owned()),
            ]
        );
        let query: Vec<(&str, &str)> = injection
            .query_params()
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose_secret()))
            .collect();
        assert_eq!(query, [("api_key", "sk_live_secret")]);
        assert!(injection.is_audit_excluded("X-Api-Key"));
        assert!(injection.is_audit_excluded("x-account"));
        assert!(!injection.is_audit_excluded("api_key"));
    }

    #[test]
    fn query_injection_keeps_url_query() {
        let injection = plan_injection(&acme_token()).unwrap();
        let mut url = Url::parse("https://api.acme.example/v1/items?limit=5").unwrap();
        injection.apply_query(&mut url);
        assert_eq!(
            url.as_str(),
            "https://api.acme.example/v1/items?limit=5&api_key=sk_live_secret"
        );
    }

    #[test]
    fn query_injection_replaces_same_name() {
        let injection = plan_injection(&acme_token()).unwrap();
        let mut url =
            Url::parse("https://x.example/a?q=a%20b+c&api_key=old&flag&api%5Fkey=older&z=1")
                .unwrap();
        injection.apply_query(&mut url);
        assert_eq!(
            url.as_str(),
            "https://x.example/a?q=a%20b+c&flag&z=1&api_key=sk_live_secret"
        );

        let mut url = Url::parse("https://x.example/a?api_key=old").unwrap();
        injection.apply_query(&mut url);
        assert_eq!(url.as_str(), "https://x.example/a?api_key=sk_live_secret");
    }

    #[test]
    fn query_injection_without_query() {
        let injection = plan_injection(&acme_token()).unwrap();
        let mut url = Url::parse("https://x.example/a").unwrap();
        injection.apply_query(&mut url);
        assert_eq!(url.as_str(), "https://x.example/a?api_key=sk_live_secret");
    }

    #[test]
    fn query_value_is_form_encoded() {
        let injection = plan_injection(&token(json!({
            "access_token": "a b/c&d=e",
            "grant_id": GRANT_ID,
            "additional_injections": [
                {"target": "query_param", "key": "key", "value_source": "token"}
            ]
        })))
        .unwrap();
        let mut url = Url::parse("https://x.example/").unwrap();
        injection.apply_query(&mut url);
        assert_eq!(url.as_str(), "https://x.example/?key=a+b%2Fc%26d%3De");
    }

    #[test]
    fn headers_replace_caller_headers() {
        let injection = plan_injection(&acme_token()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("caller value"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        injection.apply_headers(&mut headers);
        let values: Vec<_> = headers.get_all("X-Api-Key").iter().collect();
        assert_eq!(values, [&HeaderValue::from_static("sk_live_secret")]);
        assert_eq!(headers["x-account"], "acct_123");
        assert_eq!(headers["accept"], "application/json");
        assert!(headers["x-api-key"].is_sensitive());
    }

    #[test]
    fn replaces_only_first_placeholder() {
        let injection = plan_injection(&token(json!({
            "access_token": "tok",
            "grant_id": GRANT_ID,
            "injection_format": "Token {token} {token}"
        })))
        .unwrap();
        assert_eq!(injection.headers()[0].1, "Token tok {token}");
    }

    #[test]
    fn missing_credential_is_skipped() {
        let injection = plan_injection(&token(json!({
            "access_token": "tok",
            "grant_id": GRANT_ID,
            "additional_credentials": null,
            "additional_injections": [
                {"target": "header", "key": "X-Tenant",
                 "value_source": "additional_credentials.tenant"},
                {"target": "query_param", "key": "tenant",
                 "value_source": "additional_credentials.tenant"}
            ]
        })))
        .unwrap();
        assert_eq!(injection.headers().len(), 1);
        assert!(injection.query_params().is_empty());
        // The header name is still left out of the audit row.
        assert!(injection.is_audit_excluded("x-tenant"));
    }

    #[test]
    fn later_header_injection_wins() {
        let injection = plan_injection(&token(json!({
            "access_token": "tok",
            "grant_id": GRANT_ID,
            "additional_credentials": {"other": "second"},
            "additional_injections": [
                {"target": "header", "key": "authorization",
                 "value_source": "additional_credentials.other"}
            ]
        })))
        .unwrap();
        let mut headers = HeaderMap::new();
        injection.apply_headers(&mut headers);
        assert_eq!(headers[AUTHORIZATION], "second");
    }

    #[test]
    fn control_character_rejected_without_value() {
        let error = plan_injection(&token(json!({
            "access_token": "SECRET\u{1}VALUE",
            "grant_id": GRANT_ID
        })))
        .unwrap_err();
        let Error::MalformedResponse { endpoint, reason } = &error else {
            panic!("expected MalformedResponse, got {error:?}");
        };
        assert_eq!(*endpoint, TOKEN_ENDPOINT);
        assert!(reason.contains("`Authorization`"), "{reason}");
        assert!(!reason.contains("SECRET"), "{reason}");

        let error = plan_injection(&token(json!({
            "access_token": "tok",
            "grant_id": GRANT_ID,
            "additional_credentials": {"c": "SECRET\u{7f}"},
            "additional_injections": [
                {"target": "header", "key": "X-C", "value_source": "additional_credentials.c"}
            ]
        })))
        .unwrap_err();
        assert!(error.to_string().contains("`X-C`"), "{error}");
        assert!(!error.to_string().contains("SECRET"), "{error}");
    }

    #[test]
    fn sigv4_is_rejected() {
        let error = plan_injection(&token(json!({
            "access_token": "AKIAEXAMPLE",
            "grant_id": GRANT_ID,
            "provider_id": "aws",
            "injection_format": "AWS4-HMAC-SHA256",
            "additional_credentials": {"secret_key": "s", "region": "us-east-1"}
        })))
        .unwrap_err();
        let Error::InvalidRequest(message) = &error else {
            panic!("expected InvalidRequest, got {error:?}");
        };
        assert!(message.contains("Signature V4"), "{message}");
        assert!(message.contains("`aws`"), "{message}");
    }

    #[test]
    fn debug_redacts_values() {
        let injection = plan_injection(&acme_token()).unwrap();
        let debug = format!("{injection:?}");
        assert!(!debug.contains("sk_live_secret"), "{debug}");
        assert!(!debug.contains("acct_123"), "{debug}");
    }

    proptest! {
        #[test]
        fn apply_query_keeps_other_params(
            existing in prop::collection::vec(("[a-z_]{0,6}", "[ -~]{0,8}"), 0..6),
            injected_value in "[ -~]{1,12}",
        ) {
            let injection = plan_injection(&token(json!({
                "access_token": injected_value,
                "grant_id": GRANT_ID,
                "additional_injections": [
                    {"target": "query_param", "key": "key", "value_source": "token"}
                ]
            })))
            .unwrap();
            let mut url = Url::parse("https://x.example/p").unwrap();
            for (name, value) in &existing {
                url.query_pairs_mut().append_pair(name, value);
            }
            injection.apply_query(&mut url);

            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let expected: Vec<(String, String)> = existing
                .iter()
                .filter(|(name, _)| name != "key")
                .cloned()
                .chain([("key".to_owned(), injected_value.clone())])
                .collect();
            prop_assert_eq!(pairs, expected);
        }

        #[test]
        fn apply_query_never_panics(query in ".{0,40}") {
            let injection = plan_injection(&acme_token()).unwrap();
            if let Ok(mut url) = Url::parse(&format!("https://x.example/p?{query}")) {
                injection.apply_query(&mut url);
                prop_assert!(url.query_pairs().any(|(name, _)| name == "api_key"));
            }
        }
    }
}
