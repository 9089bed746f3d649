//! The `/sdk/token` response: the provider credential and the rules for injecting it.
//!
//! Every field is validated before any provider request is made, because the response decides
//! which header or query parameter carries a credential. Unknown keys are ignored. `null` is
//! accepted only for `expires_in`, `expires_at`, `token_generation`, `additional_credentials`
//! and `additional_injections`, where it means the same as an absent key. Integers and booleans
//! are typed strictly: `3599.0` is not an integer and `"true"` is not a boolean.
//!
//! A failure is [`Error::MalformedResponse`] for `/sdk/token`. Its reason names the field and
//! the rule, and never contains the access token or a credential value.

use std::fmt;

use serde_json::{Map, Value};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use uuid::Uuid;

use crate::error::Error;

/// The backend path whose response this module parses.
pub const TOKEN_ENDPOINT: &str = "/sdk/token";

/// The header that carries the access token when the response names none.
pub const DEFAULT_INJECTION_HEADER: &str = "Authorization";

/// The header value template used when the response names none.
pub const DEFAULT_INJECTION_FORMAT: &str = "Bearer {token}";

/// The placeholder in `injection_format` that the access token replaces.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// The `injection_format` prefix of providers that need AWS Signature V4 signing.
pub const SIGV4_FORMAT_PREFIX: &str = "AWS4-HMAC-SHA256";

/// Header names a token response may not inject into, compared case-insensitively: hop-by-hop
/// and framing headers, cookies, forwarding headers, method overrides and security policies.
pub const FORBIDDEN_INJECTION_HEADERS: [&str; 22] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "cookie",
    "set-cookie",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-http-method-override",
    "x-method-override",
    "www-authenticate",
    "strict-transport-security",
    "content-security-policy",
];

const MAX_TOKEN_TYPE_CHARS: usize = 255;
const MAX_PROVIDER_ID_CHARS: usize = 255;
const MAX_INJECTION_HEADER_CHARS: usize = 60;
const MAX_INJECTION_FORMAT_CHARS: usize = 200;
const MAX_ADDITIONAL_CREDENTIALS: usize = 10;
const MAX_CREDENTIAL_NAME_CHARS: usize = 50;
const MAX_CREDENTIAL_VALUE_CHARS: usize = 8192;
const MAX_ADDITIONAL_INJECTIONS: usize = 10;
const MAX_INJECTION_KEY_CHARS: usize = 100;
const MAX_VALUE_SOURCE_CHARS: usize = 100;
const CREDENTIAL_SOURCE_PREFIX: &str = "additional_credentials.";

/// A provider credential: an access token or an additional credential value.
///
/// `Debug` prints `<redacted>`; [`ProviderSecret::expose_secret`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSecret(Box<str>);

impl ProviderSecret {
    /// Wraps a credential value.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into().into_boxed_str())
    }

    /// Returns the credential itself, for injecting it into the provider request.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderSecret(<redacted>)")
    }
}

/// A validated `/sdk/token` response.
///
/// `Debug` is safe to log: it redacts the access token and the additional credential values.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The provider access token (for SigV4 providers, the AWS access key id).
    pub access_token: ProviderSecret,
    /// The grant the token belongs to, as a canonical lower-case hyphenated UUID.
    pub grant_id: String,
    /// The token type, `Bearer` by default. It is validated but does not affect injection.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: Option<u64>,
    /// The instant the token expires.
    pub expires_at: Option<OffsetDateTime>,
    /// The scopes granted to the token.
    pub scopes: Vec<String>,
    /// The provider, or an empty string when the backend did not name it.
    pub provider_id: String,
    /// The generation of the stored token, a canonical lower-case UUID; the audit row repeats it.
    pub token_generation: Option<String>,
    /// Whether the backend flagged that the grant lacks scopes the request needs.
    pub scope_mismatch: bool,
    /// The header that carries the token, `Authorization` by default.
    pub injection_header: String,
    /// The header value template; its first `{token}` is replaced by the access token.
    pub injection_format: String,
    /// Extra credential values that additional injections or SigV4 signing refer to.
    pub additional_credentials: Option<AdditionalCredentials>,
    /// Extra headers or query parameters to set on the provider request, in order.
    pub additional_injections: Vec<AdditionalInjection>,
    /// The backend's report of its attempts to refresh the token, when it sent a valid one.
    pub retry_info: Option<RetryInfo>,
}

/// The `additional_credentials` object: credential names mapped to secret values, in the
/// order the backend sent them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdditionalCredentials(Vec<(String, ProviderSecret)>);

impl AdditionalCredentials {
    /// Returns the credential named `name`.
    pub fn get(&self, name: &str) -> Option<&ProviderSecret> {
        self.0
            .iter()
            .find(|(entry, _)| entry == name)
            .map(|(_, secret)| secret)
    }

    /// Iterates over the credentials in the order the backend sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ProviderSecret)> {
        self.0.iter().map(|(name, secret)| (name.as_str(), secret))
    }

    /// Returns the number of credentials.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns whether there are no credentials.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AdditionalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

/// One `additional_injections` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdditionalInjection {
    /// The place the value goes.
    pub target: InjectionTarget,
    /// The header name or query parameter name.
    pub key: String,
    /// The credential that supplies the value.
    pub value_source: ValueSource,
}

/// The place an additional injection puts its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectionTarget {
    /// A request header (`header`).
    Header,
    /// A URL query parameter (`query_param`).
    QueryParam,
}

/// The credential an additional injection reads.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueSource {
    /// The access token (`token`).
    Token,
    /// The named entry of `additional_credentials` (`additional_credentials.<name>`).
    AdditionalCredential(String),
}

/// The backend's report of its attempts to refresh the provider token.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryInfo {
    /// Number of attempts made.
    pub total_attempts: u64,
    /// The attempt that succeeded, when one did.
    pub successful_attempt: Option<u64>,
    /// The failed attempts.
    pub errors: Vec<RetryAttempt>,
}

/// A failed refresh attempt reported in [`RetryInfo`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryAttempt {
    /// The attempt number, starting at 1.
    pub attempt: u64,
    /// The error message.
    pub error: String,
    /// The error's type name.
    pub error_type: String,
    /// The delay in seconds before the next attempt.
    pub delay_s: f64,
    /// Whether the backend stopped retrying after this error.
    pub permanent: bool,
}

/// Returns whether `name` is on the [`FORBIDDEN_INJECTION_HEADERS`] list, ignoring case.
pub fn is_forbidden_injection_header(name: &str) -> bool {
    FORBIDDEN_INJECTION_HEADERS
        .iter()
        .any(|forbidden| forbidden.eq_ignore_ascii_case(name))
}

/// Parses and validates a `/sdk/token` response body.
///
/// # Errors
///
/// Returns [`Error::MalformedResponse`] when the body is not a JSON object or any field breaks
/// its rule. The reason names the field and the rule, and never contains the access token or a
/// credential value.
pub fn parse_token_response(body: &[u8]) -> Result<TokenResponse, Error> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| malformed(format!("the body is not valid JSON ({error})")))?;
    let Value::Object(object) = value else {
        return Err(malformed(format!(
            "the body is JSON {}, not an object",
            json_kind(&value)
        )));
    };
    TokenResponse::from_object(&object).map_err(malformed)
}

fn malformed(reason: String) -> Error {
    Error::malformed(TOKEN_ENDPOINT, reason)
}

impl TokenResponse {
    fn from_object(object: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            access_token: parse_access_token(object.get("access_token"))?,
            grant_id: parse_required_uuid(object, "grant_id")?,
            token_type: parse_token_type(object.get("token_type"))?,
            expires_in: parse_expires_in(non_null(object, "expires_in"))?,
            expires_at: parse_expires_at(non_null(object, "expires_at"))?,
            scopes: parse_scopes(object.get("scopes"))?,
            provider_id: parse_provider_id(object.get("provider_id"))?,
            token_generation: non_null(object, "token_generation")
                .map(|value| parse_uuid(value, "token_generation"))
                .transpose()?,
            scope_mismatch: parse_scope_mismatch(object.get("scope_mismatch"))?,
            injection_header: parse_injection_header(object.get("injection_header"))?,
            injection_format: parse_injection_format(object.get("injection_format"))?,
            additional_credentials: non_null(object, "additional_credentials")
                .map(parse_additional_credentials)
                .transpose()?,
            additional_injections: non_null(object, "additional_injections")
                .map(parse_additional_injections)
                .transpose()?
                .unwrap_or_default(),
            retry_info: object.get("retry_info").and_then(parse_retry_info),
        })
    }

    /// Returns whether the provider needs AWS Signature V4 signing: `injection_format` starts with
    /// `AWS4-HMAC-SHA256` and `additional_credentials` is a non-empty object.
    pub fn requires_sigv4(&self) -> bool {
        self.injection_format.starts_with(SIGV4_FORMAT_PREFIX)
            && self
                .additional_credentials
                .as_ref()
                .is_some_and(|credentials| !credentials.is_empty())
    }
}

/// Returns the field's value, treating an explicit `null` like an absent key.
fn non_null<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn parse_access_token(value: Option<&Value>) -> Result<ProviderSecret, String> {
    let token = match value {
        None => return Err("`access_token` is missing".into()),
        Some(Value::String(token)) => token,
        Some(other) => {
            return Err(format!(
                "`access_token` must be a string, not {}",
                json_kind(other)
            ));
        }
    };
    if token.is_empty() {
        return Err("`access_token` is empty".into());
    }
    if has_line_break_or_nul(token) {
        return Err("`access_token` contains a CR, LF or NUL character".into());
    }
    Ok(ProviderSecret::new(token.as_str()))
}

fn parse_required_uuid(object: &Map<String, Value>, field: &str) -> Result<String, String> {
    let value = object
        .get(field)
        .ok_or_else(|| format!("`{field}` is missing"))?;
    parse_uuid(value, field)
}

fn parse_uuid(value: &Value, field: &str) -> Result<String, String> {
    let text = expect_string(value, field)?;
    if is_canonical_uuid(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{field}` must be a canonical lower-case hyphenated UUID, not {}",
            quote_excerpt(text)
        ))
    }
}

/// Returns whether `text` is exactly the canonical 8-4-4-4-12 lower-case form of a UUID.
pub fn is_canonical_uuid(text: &str) -> bool {
    Uuid::parse_str(text).is_ok_and(|uuid| uuid.hyphenated().to_string() == text)
}

fn parse_token_type(value: Option<&Value>) -> Result<String, String> {
    let Some(value) = value else {
        return Ok("Bearer".into());
    };
    let text = expect_string(value, "token_type")?;
    if text.trim().is_empty() {
        return Err("`token_type` is blank".into());
    }
    check_plain_text(text, "token_type", MAX_TOKEN_TYPE_CHARS)?;
    Ok(text.to_owned())
}

fn parse_provider_id(value: Option<&Value>) -> Result<String, String> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    let text = expect_string(value, "provider_id")?;
    check_plain_text(text, "provider_id", MAX_PROVIDER_ID_CHARS)?;
    Ok(text.to_owned())
}

/// Checks the rules shared by `token_type` and `provider_id`: no surrounding whitespace, at most
/// `max_chars` characters and no ASCII control characters.
fn check_plain_text(text: &str, field: &str, max_chars: usize) -> Result<(), String> {
    if text.trim() != text {
        return Err(format!("`{field}` has leading or trailing whitespace"));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "`{field}` is {chars} characters long, more than the maximum of {max_chars}"
        ));
    }
    if has_ascii_control(text) {
        return Err(format!("`{field}` contains an ASCII control character"));
    }
    Ok(())
}

fn parse_expires_in(value: Option<&Value>) -> Result<Option<u64>, String> {
    value
        .map(|value| {
            value.as_u64().ok_or_else(|| {
                format!(
                    "`expires_in` must be a non-negative JSON integer, not {}",
                    describe_number(value)
                )
            })
        })
        .transpose()
}

fn parse_expires_at(value: Option<&Value>) -> Result<Option<OffsetDateTime>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = expect_string(value, "expires_at")?;
    parse_rfc3339(text).map(Some).ok_or_else(|| {
        format!(
            "`expires_at` must be an RFC 3339 date-time such as 2024-01-31T12:00:00Z, not {}",
            quote_excerpt(text)
        )
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]` followed by `Z` or `±HH:MM`.
///
/// The fraction has 1 to 9 digits. The offset's hour is at most 23 and its minute at most 59,
/// and the year is at least 1. `T` and `Z` may be lower case, as RFC 3339 allows.
fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 {
        return None;
    }
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    let hour = digits(bytes, 11, 2)?;
    let minute = digits(bytes, 14, 2)?;
    let second = digits(bytes, 17, 2)?;
    let separators_valid = bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !separators_valid || year == 0 {
        return None;
    }

    let mut rest = &bytes[19..];
    let mut nanosecond = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let length = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&length) {
            return None;
        }
        let value = digits(fraction, 0, length)?;
        nanosecond = value * 10u32.pow(9 - length as u32);
        rest = &fraction[length..];
    }

    let offset = match rest {
        [b'Z' | b'z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let offset_hour = digits(rest, 1, 2)?;
            let offset_minute = digits(rest, 4, 2)?;
            if offset_hour > 23 || offset_minute > 59 {
                return None;
            }
            let sign = if *sign == b'-' { -1 } else { 1 };
            UtcOffset::from_hms(sign * offset_hour as i8, sign * offset_minute as i8, 0).ok()?
        }
        _ => return None,
    };

    let date = Date::from_calendar_date(year as i32, Month::try_from(month as u8).ok()?, day as u8)
        .ok()?;
    let time = Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanosecond).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Reads `count` ASCII digits at `start` as a number.
fn digits(bytes: &[u8], start: usize, count: usize) -> Option<u32> {
    let slice = bytes.get(start..start + count)?;
    slice.iter().try_fold(0u32, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

fn parse_scopes(value: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Array(entries) = value else {
        return Err(format!(
            "`scopes` must be an array of strings, not {}",
            json_kind(value)
        ));
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let field = format!("scopes[{index}]");
            let scope = expect_string(entry, &field)?;
            if scope.is_empty() {
                return Err(format!("`{field}` is empty"));
            }
            if scope.trim() != scope {
                return Err(format!("`{field}` has leading or trailing whitespace"));
            }
            if has_ascii_control(scope) {
                return Err(format!("`{field}` contains an ASCII control character"));
            }
            Ok(scope.to_owned())
        })
        .collect()
}

fn parse_scope_mismatch(value: Option<&Value>) -> Result<bool, String> {
    match value {
        None => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(format!(
            "`scope_mismatch` must be a JSON boolean, not {}",
            json_kind(other)
        )),
    }
}

fn parse_injection_header(value: Option<&Value>) -> Result<String, String> {
    let Some(value) = value else {
        return Ok(DEFAULT_INJECTION_HEADER.into());
    };
    let name = expect_string(value, "injection_header")?;
    check_header_name(name, "injection_header", MAX_INJECTION_HEADER_CHARS, false)?;
    check_not_forbidden(name, "injection_header")?;
    Ok(name.to_owned())
}

/// Checks a header or query parameter name: a letter, then letters, digits and `-` (and `_`
/// when `allow_underscore`), 1 to `max_chars` characters long.
fn check_header_name(
    name: &str,
    field: &str,
    max_chars: usize,
    allow_underscore: bool,
) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(format!(
            "`{field}` must be 1 to {max_chars} characters long, not {chars}"
        ));
    }
    let mut bytes = name.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_valid =
        bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || (allow_underscore && b == b'_'));
    if !starts_with_letter || !rest_valid {
        let allowed = if allow_underscore {
            "letters, digits, '-' and '_'"
        } else {
            "letters, digits and '-'"
        };
        return Err(format!(
            "`{field}` must start with a letter and contain only {allowed}, not {}",
            quote_excerpt(name)
        ));
    }
    Ok(())
}

fn check_not_forbidden(name: &str, field: &str) -> Result<(), String> {
    if is_forbidden_injection_header(name) {
        Err(format!(
            "`{field}` names the header `{name}`, which a credential may not be injected into"
        ))
    } else {
        Ok(())
    }
}

fn parse_injection_format(value: Option<&Value>) -> Result<String, String> {
    let Some(value) = value else {
        return Ok(DEFAULT_INJECTION_FORMAT.into());
    };
    let format = expect_string(value, "injection_format")?;
    let chars = format.chars().count();
    if chars > MAX_INJECTION_FORMAT_CHARS {
        return Err(format!(
            "`injection_format` is {chars} characters long, more than the maximum of \
             {MAX_INJECTION_FORMAT_CHARS}"
        ));
    }
    if has_line_break_or_nul(format) {
        return Err("`injection_format` contains a CR, LF or NUL character".into());
    }
    if !format.contains(TOKEN_PLACEHOLDER) && !format.starts_with(SIGV4_FORMAT_PREFIX) {
        return Err(
            "`injection_format` must contain the `{token}` placeholder unless it starts with \
             `AWS4-HMAC-SHA256`"
                .into(),
        );
    }
    Ok(format.to_owned())
}

fn parse_additional_credentials(value: &Value) -> Result<AdditionalCredentials, String> {
    let Value::Object(object) = value else {
        return Err(format!(
            "`additional_credentials` must be an object, not {}",
            json_kind(value)
        ));
    };
    if object.len() > MAX_ADDITIONAL_CREDENTIALS {
        return Err(format!(
            "`additional_credentials` has {} entries, more than the maximum of \
             {MAX_ADDITIONAL_CREDENTIALS}",
            object.len()
        ));
    }
    let mut credentials = Vec::with_capacity(object.len());
    for (name, value) in object {
        let name_chars = name.chars().count();
        if name_chars > MAX_CREDENTIAL_NAME_CHARS {
            return Err(format!(
                "`additional_credentials` has a name of {name_chars} characters, more than the \
                 maximum of {MAX_CREDENTIAL_NAME_CHARS}"
            ));
        }
        // The name is not secret and identifies the entry; the value is never quoted.
        let field = format!("additional_credentials.{name}");
        let Value::String(secret) = value else {
            return Err(format!(
                "`{field}` must be a string, not {}",
                json_kind(value)
            ));
        };
        if secret.trim().is_empty() {
            return Err(format!("`{field}` is blank"));
        }
        let chars = secret.chars().count();
        if chars > MAX_CREDENTIAL_VALUE_CHARS {
            return Err(format!(
                "`{field}` is {chars} characters long, more than the maximum of \
                 {MAX_CREDENTIAL_VALUE_CHARS}"
            ));
        }
        if has_line_break_or_nul(secret) {
            return Err(format!("`{field}` contains a CR, LF or NUL character"));
        }
        credentials.push((name.clone(), ProviderSecret::new(secret.as_str())));
    }
    Ok(AdditionalCredentials(credentials))
}

fn parse_additional_injections(value: &Value) -> Result<Vec<AdditionalInjection>, String> {
    let Value::Array(rules) = value else {
        return Err(format!(
            "`additional_injections` must be an array, not {}",
            json_kind(value)
        ));
    };
    if rules.len() > MAX_ADDITIONAL_INJECTIONS {
        return Err(format!(
            "`additional_injections` has {} rules, more than the maximum of \
             {MAX_ADDITIONAL_INJECTIONS}",
            rules.len()
        ));
    }
    rules
        .iter()
        .enumerate()
        .map(|(index, rule)| parse_injection_rule(rule, &format!("additional_injections[{index}]")))
        .collect()
}

fn parse_injection_rule(rule: &Value, field: &str) -> Result<AdditionalInjection, String> {
    let Value::Object(object) = rule else {
        return Err(format!(
            "`{field}` must be an object, not {}",
            json_kind(rule)
        ));
    };
    if let Some(extra) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "target" | "key" | "value_source"))
    {
        return Err(format!(
            "`{field}` has the unknown key {}; a rule has exactly `target`, `key` and \
             `value_source`",
            quote_excerpt(extra)
        ));
    }
    let member = |name: &str| {
        object
            .get(name)
            .ok_or_else(|| format!("`{field}.{name}` is missing"))
    };

    let target = match expect_string(member("target")?, &format!("{field}.target"))? {
        "header" => InjectionTarget::Header,
        "query_param" => InjectionTarget::QueryParam,
        other => {
            return Err(format!(
                "`{field}.target` must be `header` or `query_param`, not {}",
                quote_excerpt(other)
            ));
        }
    };

    let key_field = format!("{field}.key");
    let key = expect_string(member("key")?, &key_field)?;
    check_header_name(key, &key_field, MAX_INJECTION_KEY_CHARS, true)?;
    if target == InjectionTarget::Header {
        check_not_forbidden(key, &key_field)?;
    }

    let source_field = format!("{field}.value_source");
    let source = expect_string(member("value_source")?, &source_field)?;
    let value_source = parse_value_source(source).ok_or_else(|| {
        format!(
            "`{source_field}` must be `token` or `additional_credentials.<name>` with a name of \
             lower-case letters, digits and '_' starting with a letter, at most \
             {MAX_VALUE_SOURCE_CHARS} characters in all, not {}",
            quote_excerpt(source)
        )
    })?;

    Ok(AdditionalInjection {
        target,
        key: key.to_owned(),
        value_source,
    })
}

fn parse_value_source(source: &str) -> Option<ValueSource> {
    if source.len() > MAX_VALUE_SOURCE_CHARS {
        return None;
    }
    if source == "token" {
        return Some(ValueSource::Token);
    }
    let name = source.strip_prefix(CREDENTIAL_SOURCE_PREFIX)?;
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    valid.then(|| ValueSource::AdditionalCredential(name.to_owned()))
}

/// Reads `retry_info` on a best-effort basis: any deviation drops the whole report, because it
/// is informational and must not fail the request.
fn parse_retry_info(value: &Value) -> Option<RetryInfo> {
    let object = value.as_object()?;
    let total_attempts = object.get("total_attempts")?.as_u64()?;
    let successful_attempt = match object.get("successful_attempt") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64()?),
    };
    let errors = match object.get("errors") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => value
            .as_array()?
            .iter()
            .map(parse_retry_attempt)
            .collect::<Option<_>>()?,
    };
    Some(RetryInfo {
        total_attempts,
        successful_attempt,
        errors,
    })
}

fn parse_retry_attempt(value: &Value) -> Option<RetryAttempt> {
    let object = value.as_object()?;
    let attempt = object.get("attempt")?.as_u64().filter(|n| *n >= 1)?;
    let delay_s = object.get("delay_s")?.as_f64().filter(|d| *d >= 0.0)?;
    Some(RetryAttempt {
        attempt,
        error: object.get("error")?.as_str()?.to_owned(),
        error_type: object.get("error_type")?.as_str()?.to_owned(),
        delay_s,
        permanent: object.get("permanent")?.as_bool()?,
    })
}

fn expect_string<'a>(value: &'a Value, field: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("`{field}` must be a string, not {}", json_kind(value)))
}

fn has_line_break_or_nul(text: &str) -> bool {
    text.contains(['\r', '\n', '\0'])
}

fn has_ascii_control(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_control())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Describes a rejected numeric field: the number itself when it is one, else its JSON kind.
fn describe_number(value: &Value) -> String {
    match value {
        Value::Number(number) => number.to_string(),
        other => json_kind(other).to_owned(),
    }
}

/// Quotes a non-secret value for an error message, cut to 64 characters.
fn quote_excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    if text.chars().count() <= MAX_CHARS {
        format!("{text:?}")
    } else {
        let excerpt: String = text.chars().take(MAX_CHARS).collect();
        format!("{excerpt:?}…")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const GRANT_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    const TOKEN: &str = "ya29.test-access-token";

    fn parse(value: Value) -> Result<TokenResponse, Error> {
        parse_token_response(&serde_json::to_vec(&value).unwrap())
    }

    fn minimal() -> Map<String, Value> {
        let Value::Object(object) = json!({"access_token": TOKEN, "grant_id": GRANT_ID}) else {
            unreachable!()
        };
        object
    }

    fn with(key: &str, value: Value) -> Value {
        let mut object = minimal();
        object.insert(key.into(), value);
        Value::Object(object)
    }

    fn reason(result: Result<TokenResponse, Error>) -> String {
        match result {
            Err(Error::MalformedResponse { endpoint, reason }) => {
                assert_eq!(endpoint, TOKEN_ENDPOINT);
                reason
            }
            Err(other) => panic!("expected MalformedResponse, got {other:?}"),
            Ok(response) => panic!("expected an error, got {response:?}"),
        }
    }

    #[test]
    fn parses_full_response() {
        let response = parse(json!({
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 3599,
            "expires_at": "2023-11-14T23:13:20.5+01:00",
            "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
            "grant_id": GRANT_ID,
            "provider_id": "google",
            "token_generation": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            "scope_mismatch": true,
            "injection_header": "Authorization",
            "injection_format": "Bearer {token}",
            "unknown_key": {"ignored": true}
        }))
        .unwrap();
        assert_eq!(response.access_token.expose_secret(), TOKEN);
        assert_eq!(response.grant_id, GRANT_ID);
        assert_eq!(response.token_type, "Bearer");
        assert_eq!(response.expires_in, Some(3599));
        assert_eq!(
            response.expires_at,
            Some(datetime!(2023-11-14 23:13:20.5 +01:00))
        );
        assert_eq!(
            response.scopes,
            ["https://www.googleapis.com/auth/calendar.readonly"]
        );
        assert_eq!(response.provider_id, "google");
        assert_eq!(
            response.token_generation.as_deref(),
            Some("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
        );
        assert!(response.scope_mismatch);
        assert_eq!(response.injection_header, "Authorization");
        assert_eq!(response.injection_format, "Bearer {token}");
        assert_eq!(response.additional_credentials, None);
        assert!(response.additional_injections.is_empty());
        assert_eq!(response.retry_info, None);
    }

    #[test]
    fn minimal_response_gets_defaults() {
        let response = parse(Value::Object(minimal())).unwrap();
        assert_eq!(response.token_type, "Bearer");
        assert_eq!(response.expires_in, None);
        assert_eq!(response.expires_at, None);
        assert!(response.scopes.is_empty());
        assert_eq!(response.provider_id, "");
        assert_eq!(response.token_generation, None);
        assert!(!response.scope_mismatch);
        assert_eq!(response.injection_header, DEFAULT_INJECTION_HEADER);
        assert_eq!(response.injection_format, DEFAULT_INJECTION_FORMAT);
        assert!(!response.requires_sigv4());
    }

    #[test]
    fn parses_additional_injections() {
        let response = parse(json!({
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
        .unwrap();
        let credentials = response.additional_credentials.as_ref().unwrap();
        assert_eq!(credentials.len(), 1);
        assert_eq!(
            credentials
                .get("account_id")
                .map(ProviderSecret::expose_secret),
            Some("acct_123")
        );
        assert_eq!(
            response.additional_injections,
            [
                AdditionalInjection {
                    target: InjectionTarget::QueryParam,
                    key: "api_key".into(),
                    value_source: ValueSource::Token,
                },
                AdditionalInjection {
                    target: InjectionTarget::Header,
                    key: "X-Account".into(),
                    value_source: ValueSource::AdditionalCredential("account_id".into()),
                },
            ]
        );
    }

    #[test]
    fn null_accepted_where_allowed() {
        for key in [
            "expires_in",
            "expires_at",
            "token_generation",
            "additional_credentials",
            "additional_injections",
        ] {
            let response = parse(with(key, Value::Null));
            assert!(response.is_ok(), "{key}: {response:?}");
        }
    }

    #[test]
    fn null_rejected_elsewhere() {
        for key in [
            "access_token",
            "grant_id",
            "token_type",
            "scopes",
            "provider_id",
            "scope_mismatch",
            "injection_header",
            "injection_format",
        ] {
            let message = reason(parse(with(key, Value::Null)));
            assert!(message.contains(&format!("`{key}`")), "{key}: {message}");
            assert!(message.contains("null"), "{key}: {message}");
        }
    }

    #[test]
    fn body_must_be_json_object() {
        let message = reason(parse_token_response(b"not json"));
        assert!(message.contains("not valid JSON"), "{message}");
        let message = reason(parse_token_response(b"[1]"));
        assert!(message.contains("an array, not an object"), "{message}");
        let message = reason(parse_token_response(b""));
        assert!(message.contains("not valid JSON"), "{message}");
    }

    #[test]
    fn rejects_each_broken_rule() {
        let long = |n: usize| "a".repeat(n);
        let cases: Vec<(Value, &str)> = vec![
            (json!({"grant_id": GRANT_ID}), "`access_token` is missing"),
            (with("access_token", json!("")), "`access_token` is empty"),
            (with("access_token", json!(5)), "`access_token` must be a string"),
            (with("access_token", json!("a\nb")), "CR, LF or NUL"),
            (with("access_token", json!("a\rb")), "CR, LF or NUL"),
            (with("access_token", json!("a\0b")), "CR, LF or NUL"),
            (json!({"access_token": TOKEN}), "`grant_id` is missing"),
            (
                with("grant_id", json!("6F1C2D3E-4A5B-4C6D-8E7F-9A0B1C2D3E4F")),
                "canonical lower-case",
            ),
            (
                with("grant_id", json!("6f1c2d3e4a5b4c6d8e7f9a0b1c2d3e4f")),
                "canonical lower-case",
            ),
            (
                with("grant_id", json!("{6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f}")),
                "canonical lower-case",
            ),
            (with("grant_id", json!("grant-1")), "\"grant-1\""),
            (with("token_type", json!("")), "`token_type` is blank"),
            (with("token_type", json!("   ")), "`token_type` is blank"),
            (with("token_type", json!(" Bearer")), "leading or trailing"),
            (with("token_type", json!("Bearer\u{7f}")), "control character"),
            (with("token_type", json!(long(256))), "more than the maximum of 255"),
            (with("expires_in", json!(3599.0)), "3599.0"),
            (with("expires_in", json!(-1)), "non-negative JSON integer"),
            (with("expires_in", json!(true)), "a boolean"),
            (with("expires_in", json!("3599")), "a string"),
            (with("expires_at", json!("2023-11-14")), "RFC 3339"),
            (with("expires_at", json!(1700000000)), "`expires_at` must be a string"),
            (with("scopes", json!("a b")), "array of strings"),
            (with("scopes", json!(["a", ""])), "`scopes[1]` is empty"),
            (with("scopes", json!([" a"])), "leading or trailing"),
            (with("scopes", json!(["a\tb"])), "control character"),
            (with("scopes", json!([1])), "`scopes[0]` must be a string"),
            (with("provider_id", json!("google ")), "leading or trailing"),
            (with("provider_id", json!(long(256))), "maximum of 255"),
            (with("provider_id", json!("goo\u{1}gle")), "control character"),
            (with("token_generation", json!("abc")), "`token_generation`"),
            (with("scope_mismatch", json!("true")), "JSON boolean"),
            (with("scope_mismatch", json!(1)), "JSON boolean"),
            (with("injection_header", json!("")), "1 to 60 characters"),
            (with("injection_header", json!(long(61))), "1 to 60 characters"),
            (with("injection_header", json!("1Auth")), "start with a letter"),
            (with("injection_header", json!("X_Api_Key")), "letters, digits and '-'"),
            (with("injection_header", json!("X Api")), "letters, digits and '-'"),
            (with("injection_header", json!("Cookie")), "may not be injected"),
            (with("injection_header", json!("HOST")), "may not be injected"),
            (with("injection_format", json!("Bearer")), "`{token}` placeholder"),
            (with("injection_format", json!("Bearer {token}\r\n")), "CR, LF or NUL"),
            (
                with("injection_format", json!(format!("{{token}}{}", long(194)))),
                "maximum of 200",
            ),
            (with("additional_credentials", json!([])), "must be an object"),
            (
                with(
                    "additional_credentials",
                    Value::Object((0..11).map(|i| (format!("k{i}"), json!("v"))).collect()),
                ),
                "11 entries",
            ),
            (
                with("additional_credentials", json!({ long(51): "v" })),
                "name of 51 characters",
            ),
            (with("additional_credentials", json!({"k": 5})), "`additional_credentials.k` must be a string"),
            (with("additional_credentials", json!({"k": "  "})), "`additional_credentials.k` is blank"),
            (
                with("additional_credentials", json!({"k": long(8193)})),
                "maximum of 8192",
            ),
            (with("additional_credentials", json!({"k": "a\nb"})), "CR, LF or NUL"),
            (with("additional_injections", json!({})), "must be an array"),
            (
                with(
                    "additional_injections",
                    Value::Array(
                        (0..11)
                            .map(|_| json!({"target": "header", "key": "X-A", "value_source": "token"}))
                            .collect(),
                    ),
                ),
                "11 rules",
            ),
            (with("additional_injections", json!([5])), "`additional_injections[0]` must be an object"),
            (
                with(
                    "additional_injections",
                    json!([{"target": "header", "key": "X-A", "value_source": "token", "extra": 1}]),
                ),
                "unknown key \"extra\"",
            ),
            (
                with("additional_injections", json!([{"target": "header", "key": "X-A"}])),
                "`additional_injections[0].value_source` is missing",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "body", "key": "X-A", "value_source": "token"}]),
                ),
                "`header` or `query_param`",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "header", "key": "", "value_source": "token"}]),
                ),
                "1 to 100 characters",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "query_param", "key": "_a", "value_source": "token"}]),
                ),
                "start with a letter",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "header", "key": "Set-Cookie", "value_source": "token"}]),
                ),
                "may not be injected",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "header", "key": "X-A", "value_source": "refresh_token"}]),
                ),
                "`additional_injections[0].value_source` must be",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "header", "key": "X-A",
                            "value_source": "additional_credentials.Account"}]),
                ),
                "lower-case letters",
            ),
            (
                with(
                    "additional_injections",
                    json!([{"target": "header", "key": "X-A",
                            "value_source": format!("additional_credentials.{}", long(78))}]),
                ),
                "at most 100 characters",
            ),
        ];
        for (body, expected) in cases {
            let message = reason(parse(body.clone()));
            assert!(
                message.contains(expected),
                "body {body}: expected {expected:?} in {message:?}"
            );
        }
    }

    #[test]
    fn query_param_may_use_forbidden_header_name() {
        let response = parse(with(
            "additional_injections",
            json!([{"target": "query_param", "key": "host", "value_source": "token"}]),
        ))
        .unwrap();
        assert_eq!(response.additional_injections[0].key, "host");
    }

    #[test]
    fn sigv4_format_needs_no_placeholder() {
        let mut object = minimal();
        object.insert("injection_format".into(), json!("AWS4-HMAC-SHA256"));
        object.insert(
            "additional_credentials".into(),
            json!({"secret_key": "s", "region": "us-east-1"}),
        );
        let response = parse(Value::Object(object)).unwrap();
        assert!(response.requires_sigv4());

        let response = parse(with("injection_format", json!("AWS4-HMAC-SHA256"))).unwrap();
        assert!(!response.requires_sigv4());
    }

    #[test]
    fn errors_never_contain_secrets() {
        let secret = "SECRET-VALUE-1234567890";
        let bodies = [
            json!({"access_token": format!("{secret}\n"), "grant_id": GRANT_ID}),
            json!({"access_token": secret}),
            json!({"access_token": secret, "grant_id": GRANT_ID, "scope_mismatch": "x"}),
            json!({"access_token": secret, "grant_id": GRANT_ID,
                   "additional_credentials": {"k": format!("{secret}\r")}}),
            json!({"access_token": secret, "grant_id": GRANT_ID,
                   "additional_credentials": {"k": secret.repeat(400)}}),
            json!({"access_token": secret, "grant_id": GRANT_ID,
                   "injection_format": format!("{secret}\n{{token}}")}),
            json!({"access_token": secret, "grant_id": GRANT_ID,
                   "injection_format": secret.repeat(10)}),
        ];
        for body in bodies {
            let error = parse(body.clone()).unwrap_err();
            assert!(!error.to_string().contains(secret), "{body}: {error}");
            assert!(!format!("{error:?}").contains(secret), "{body}: {error:?}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let response = parse(json!({
            "access_token": "tok-SECRET",
            "grant_id": GRANT_ID,
            "additional_credentials": {"secret_key": "cred-SECRET"}
        }))
        .unwrap();
        let debug = format!("{response:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("secret_key"), "{debug}");
        assert!(debug.contains(GRANT_ID), "{debug}");
    }

    #[test]
    fn rfc3339_rules() {
        let valid = [
            ("2023-11-14T22:13:20Z", datetime!(2023-11-14 22:13:20 UTC)),
            ("2023-11-14t22:13:20z", datetime!(2023-11-14 22:13:20 UTC)),
            (
                "2023-11-14T22:13:20.1Z",
                datetime!(2023-11-14 22:13:20.1 UTC),
            ),
            (
                "2023-11-14T22:13:20.123456789Z",
                datetime!(2023-11-14 22:13:20.123456789 UTC),
            ),
            (
                "2023-11-14T22:13:20+05:30",
                datetime!(2023-11-14 22:13:20 +05:30),
            ),
            (
                "2023-11-14T22:13:20-23:59",
                datetime!(2023-11-14 22:13:20 -23:59),
            ),
            ("2024-02-29T00:00:00Z", datetime!(2024-02-29 00:00:00 UTC)),
            ("0001-01-01T00:00:00Z", datetime!(0001-01-01 00:00:00 UTC)),
        ];
        for (text, expected) in valid {
            assert_eq!(parse_rfc3339(text), Some(expected), "{text}");
        }
        let invalid = [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:13Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20.1234567890Z",
            "2023-11-14T22:13:20+0530",
            "2023-11-14T22:13:20+05",
            "2023-11-14T22:13:20+24:00",
            "2023-11-14T22:13:20+05:60",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:60:00Z",
            "2023-11-14T22:13:60Z",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-00-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2023-11-14T22:13:20ZZ",
            "+2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20\u{e9}",
            "２０２３-11-14T22:13:20Z",
        ];
        for text in invalid {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn retry_info_best_effort() {
        let info = json!({
            "total_attempts": 2,
            "successful_attempt": 2,
            "errors": [{"attempt": 1, "error": "timeout", "error_type": "ReadTimeout",
                        "delay_s": 0.5, "permanent": false}]
        });
        let response = parse(with("retry_info", info)).unwrap();
        assert_eq!(
            response.retry_info,
            Some(RetryInfo {
                total_attempts: 2,
                successful_attempt: Some(2),
                errors: vec![RetryAttempt {
                    attempt: 1,
                    error: "timeout".into(),
                    error_type: "ReadTimeout".into(),
                    delay_s: 0.5,
                    permanent: false,
                }],
            })
        );

        let malformed = [
            json!("x"),
            json!({}),
            json!({"total_attempts": -1}),
            json!({"total_attempts": 1, "successful_attempt": "1"}),
            json!({"total_attempts": 1, "errors": {}}),
            json!({"total_attempts": 1, "errors": [{"attempt": 0, "error": "e",
                   "error_type": "t", "delay_s": 0, "permanent": true}]}),
            json!({"total_attempts": 1, "errors": [{"attempt": 1, "error": "e",
                   "error_type": "t", "delay_s": -1, "permanent": true}]}),
            json!({"total_attempts": 1, "errors": [{"attempt": 1, "error": "e",
                   "error_type": "t", "delay_s": 0}]}),
        ];
        for info in malformed {
            let response = parse(with("retry_info", info.clone())).unwrap();
            assert_eq!(response.retry_info, None, "{info}");
        }
    }

    #[test]
    fn canonical_uuid_check() {
        assert!(is_canonical_uuid(GRANT_ID));
        assert!(!is_canonical_uuid(&GRANT_ID.to_uppercase()));
        assert!(!is_canonical_uuid(&GRANT_ID.replace('-', "")));
        assert!(!is_canonical_uuid(&format!("urn:uuid:{GRANT_ID}")));
        assert!(!is_canonical_uuid(""));
    }

    fn header_name() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9-]{0,20}".prop_filter("forbidden header", |name| {
            !is_forbidden_injection_header(name)
        })
    }

    fn plain_text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._:/-]{1,30}"
    }

    fn injection_rule() -> impl Strategy<Value = AdditionalInjection> {
        (
            prop_oneof![
                Just(InjectionTarget::Header),
                Just(InjectionTarget::QueryParam)
            ],
            header_name(),
            prop_oneof![
                Just(ValueSource::Token),
                "[a-z][a-z0-9_]{0,10}".prop_map(ValueSource::AdditionalCredential),
            ],
        )
            .prop_map(|(target, key, value_source)| AdditionalInjection {
                target,
                key,
                value_source,
            })
    }

    fn rule_to_json(rule: &AdditionalInjection) -> Value {
        let target = match rule.target {
            InjectionTarget::Header => "header",
            InjectionTarget::QueryParam => "query_param",
        };
        let source = match &rule.value_source {
            ValueSource::Token => "token".to_owned(),
            ValueSource::AdditionalCredential(name) => format!("additional_credentials.{name}"),
        };
        json!({"target": target, "key": rule.key, "value_source": source})
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_token_response(&body);
        }

        #[test]
        fn never_panics_on_any_field_values(
            key in prop_oneof![
                Just("access_token"), Just("grant_id"), Just("token_type"), Just("expires_in"),
                Just("expires_at"), Just("scopes"), Just("provider_id"),
                Just("token_generation"), Just("scope_mismatch"), Just("injection_header"),
                Just("injection_format"), Just("additional_credentials"),
                Just("additional_injections"), Just("retry_info"),
            ],
            text in ".{0,40}",
            number in any::<f64>(),
        ) {
            for value in [
                json!(text),
                json!(number),
                json!([text]),
                json!({ "k": text }),
                json!([{ "target": "header", "key": text, "value_source": text }]),
            ] {
                let _ = parse(with(key, value));
            }
        }

        #[test]
        fn never_panics_on_any_timestamp(text in "[0-9T:.Zz+-]{0,40}") {
            let _ = parse_rfc3339(&text);
        }

        #[test]
        fn valid_responses_roundtrip(
            token in "[!-~]{1,60}",
            grant in any::<u128>(),
            expires_in in prop::option::of(any::<u64>()),
            scopes in prop::collection::vec(plain_text(), 0..5),
            provider_id in plain_text(),
            scope_mismatch in any::<bool>(),
            injection_header in header_name(),
            prefix in "[A-Za-z ]{0,10}",
            credentials in prop::collection::vec(("[a-z][a-z0-9_]{0,10}", "[!-~]{1,40}"), 0..5),
            rules in prop::collection::vec(injection_rule(), 0..5),
        ) {
            let grant_id = Uuid::from_u128(grant).hyphenated().to_string();
            let credentials: Map<String, Value> =
                credentials.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let body = json!({
                "access_token": token,
                "grant_id": grant_id,
                "expires_in": expires_in,
                "scopes": scopes,
                "provider_id": provider_id,
                "scope_mismatch": scope_mismatch,
                "injection_header": injection_header,
                "injection_format": format!("{prefix}{{token}}"),
                "additional_credentials": credentials,
                "additional_injections": rules.iter().map(rule_to_json).collect::<Vec<_>>(),
            });
            let response = parse(body).unwrap();
            prop_assert_eq!(response.access_token.expose_secret(), token.as_str());
            prop_assert_eq!(&response.grant_id, &grant_id);
            prop_assert_eq!(response.expires_in, expires_in);
            prop_assert_eq!(&response.scopes, &scopes);
            prop_assert_eq!(&response.provider_id, &provider_id);
            prop_assert_eq!(response.scope_mismatch, scope_mismatch);
            prop_assert_eq!(&response.injection_header, &injection_header);
            prop_assert_eq!(&response.injection_format, &format!("{prefix}{{token}}"));
            let parsed = response.additional_credentials.unwrap();
            prop_assert_eq!(parsed.len(), credentials.len());
            for (name, value) in &credentials {
                prop_assert_eq!(
                    parsed.get(name).map(ProviderSecret::expose_secret),
                    value.as_str()
                );
            }
            prop_assert_eq!(&response.additional_injections, &rules);
        }

        #[test]
        fn secret_never_in_error(
            token in "[A-Za-z0-9]{24,40}",
            broken in prop_oneof![
                Just(("grant_id", json!("nope"))),
                Just(("expires_in", json!(1.5))),
                Just(("scopes", json!([""]))),
                Just(("injection_header", json!("Host"))),
                Just(("additional_injections", json!([{}]))),
            ],
        ) {
            let mut object = minimal();
            object.insert("access_token".into(), json!(token));
            object.insert("additional_credentials".into(), json!({"k": token}));
            object.insert(broken.0.into(), broken.1);
            let error = parse(Value::Object(object)).unwrap_err();
            prop_assert!(!error.to_string().contains(&token));
        }
    }
}
