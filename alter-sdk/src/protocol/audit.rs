//! The audit row posted to `/sdk/oauth/audit/api-call` after every provider exchange of a
//! retrieve-mode request, whatever its outcome.
//!
//! The row records the request and the provider's response without any credential. Request
//! headers lose the injected credential headers and a fixed list of sensitive names, response
//! headers lose the sensitive names, and bodies are recorded as text only when they are small
//! and valid UTF-8. [`AuditRow::to_json`] writes the exact bytes the backend expects: compact
//! ASCII JSON with the keys in the order of the struct's fields.

use std::time::Duration;

use http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::protocol::context::AuditContext;
use crate::protocol::inject::Injection;
use crate::protocol::json;

/// The backend path the audit row is posted to.
pub const AUDIT_ENDPOINT: &str = "/sdk/oauth/audit/api-call";

/// The largest request or response body, in bytes, that the row records as text.
pub const MAX_AUDIT_BODY_BYTES: usize = 10_000;

/// Header names never recorded in an audit row, compared case-insensitively.
pub const SENSITIVE_AUDIT_HEADERS: [&str; 8] = [
    "authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// One audit row. Its fields serialize in declaration order, which is the order the backend
/// expects.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRow {
    /// The grant id from the token response.
    pub grant_id: String,
    /// The provider id from the token response, possibly empty.
    pub provider_id: String,
    /// The token generation from the token response.
    pub token_generation: Option<String>,
    /// The upper-case HTTP method.
    pub method: String,
    /// The URL after path parameters, before query parameters and injections are added.
    pub url: String,
    /// The request headers from [`audit_request_headers`].
    pub request_headers: Map<String, Value>,
    /// The JSON request body, the text from [`describe_raw_request_body`], or `null` without a
    /// body.
    pub request_body: Value,
    /// The provider's status, or 0 when the request failed in transport.
    pub response_status: u16,
    /// The response headers from [`audit_response_headers`], or `None` after a transport
    /// failure.
    pub response_headers: Option<Map<String, Value>>,
    /// The text from [`describe_response_body`] or [`describe_transport_failure`].
    pub response_body: String,
    /// The wall-clock time of the provider exchange, in milliseconds.
    pub latency_ms: u64,
    /// The caller's reason for the request.
    pub reason: Option<String>,
    /// The caller's audit context.
    pub context: Option<AuditContext>,
}

impl AuditRow {
    /// Serializes the row as the request body: compact JSON with every non-ASCII character
    /// escaped.
    pub fn to_json(&self) -> Vec<u8> {
        json::to_ascii_vec(self).expect("an audit row serializes: every map key is a string")
    }
}

/// The way a provider request failed before a response arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// The request did not complete within this timeout.
    Timeout(Duration),
    /// The connection failed or broke.
    Network,
}

/// Returns whether `name` is on the [`SENSITIVE_AUDIT_HEADERS`] list, ignoring case.
pub fn is_sensitive_audit_header(name: &str) -> bool {
    SENSITIVE_AUDIT_HEADERS
        .iter()
        .any(|sensitive| sensitive.eq_ignore_ascii_case(name))
}

/// Builds the `request_headers` object from the headers sent to the provider.
///
/// Names keep their case. The headers `injection` set or excluded and the sensitive headers are
/// left out, comparing names case-insensitively. Values repeated under the same name are joined
/// with `", "`, and bytes that are not UTF-8 are read as Latin-1.
pub fn audit_request_headers<I, N, V>(headers: I, injection: &Injection) -> Map<String, Value>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let recorded = headers.into_iter().filter(|(name, _)| {
        let name = name.as_ref();
        !injection.is_audit_excluded(name) && !is_sensitive_audit_header(name)
    });
    join_headers(recorded.map(|(name, value)| (name.as_ref().to_owned(), value)))
}

/// Builds the `response_headers` object from the provider's response headers.
///
/// Names are lower case, values of a repeated header are joined with `", "`, and the sensitive
/// headers are left out. The order is the order of `headers`, which for a map filled from a
/// response is the order the headers arrived in.
pub fn audit_response_headers(headers: &HeaderMap) -> Map<String, Value> {
    let recorded = headers
        .iter()
        .filter(|(name, _)| !is_sensitive_audit_header(name.as_str()));
    join_headers(recorded.map(|(name, value)| (name.as_str().to_owned(), value)))
}

fn join_headers<V: AsRef<[u8]>>(headers: impl Iterator<Item = (String, V)>) -> Map<String, Value> {
    let mut joined = Map::new();
    for (name, value) in headers {
        let value = decode_header_value(value.as_ref());
        match joined.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                joined.insert(name, Value::String(value));
            }
        }
    }
    joined
}

/// Decodes a header value as UTF-8, or as Latin-1 when it is not valid UTF-8.
fn decode_header_value(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Describes a raw (non-JSON) request body for `request_body`.
///
/// Returns the body as text, an empty string for an empty body, or `<binary body: N bytes>` when
/// it is longer than [`MAX_AUDIT_BODY_BYTES`] or not valid UTF-8.
pub fn describe_raw_request_body(body: &[u8]) -> Value {
    let text = match std::str::from_utf8(body) {
        Ok(text) if body.len() <= MAX_AUDIT_BODY_BYTES => text.to_owned(),
        _ => format!("<binary body: {} bytes>", body.len()),
    };
    Value::String(text)
}

/// Describes the provider's response body for `response_body`.
///
/// Returns the body as text, an empty string for an empty body,
/// `<response too large: N bytes>` when it is longer than [`MAX_AUDIT_BODY_BYTES`], or
/// `<binary response: N bytes>` when it is not valid UTF-8.
pub fn describe_response_body(body: &[u8]) -> String {
    if body.len() > MAX_AUDIT_BODY_BYTES {
        return format!("<response too large: {} bytes>", body.len());
    }
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("<binary response: {} bytes>", body.len()),
    }
}

/// Describes a transport failure for `response_body`:
/// `<transport error: timeout after Nms>` or `<transport error: network>`.
pub fn describe_transport_failure(failure: TransportFailure) -> String {
    match failure {
        TransportFailure::Timeout(timeout) => {
            format!("<transport error: timeout after {}ms>", timeout.as_millis())
        }
        TransportFailure::Network => "<transport error: network>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::protocol::inject::plan_injection;
    use crate::protocol::token_response::{TokenResponse, parse_token_response};

    const GRANT_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    const TOKEN_GENERATION: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
    const USER_AGENT: &str = "alter-sdk-python/0.29.0";
    const VECTORS: &str = include_str!("../../tests/data/protocol-vectors.json");

    /// Returns the recorded audit body of the vector case named `name`.
    fn recorded_audit_body(name: &str) -> String {
        let vectors: Value = serde_json::from_str(VECTORS).unwrap();
        let case = vectors["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|case| case["name"] == name)
            .unwrap_or_else(|| panic!("no vector case {name}"));
        case["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|request| request["url"].as_str().unwrap().ends_with(AUDIT_ENDPOINT))
            .and_then(|request| request["body"].as_str())
            .expect("the case posts an audit row")
            .to_owned()
    }

    fn token(value: Value) -> TokenResponse {
        parse_token_response(&serde_json::to_vec(&value).unwrap()).unwrap()
    }

    fn response_headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    /// Builds the row of one provider exchange, with the latency pinned to 0 as in the recorded
    /// cases.
    fn exchange_row(
        token: &TokenResponse,
        sent_headers: &[(&str, &str)],
        method: &str,
        url: &str,
        request_body: Value,
        response: (u16, HeaderMap, &[u8]),
    ) -> AuditRow {
        let injection = plan_injection(token).unwrap();
        let (status, headers, body) = response;
        AuditRow {
            grant_id: token.grant_id.clone(),
            provider_id: token.provider_id.clone(),
            token_generation: token.token_generation.clone(),
            method: method.to_owned(),
            url: url.to_owned(),
            request_headers: audit_request_headers(sent_headers.iter().copied(), &injection),
            request_body,
            response_status: status,
            response_headers: Some(audit_response_headers(&headers)),
            response_body: describe_response_body(body),
            latency_ms: 0,
            reason: None,
            context: None,
        }
    }

    fn ok_response() -> (u16, HeaderMap, &'static [u8]) {
        (
            200,
            response_headers(&[
                ("content-type", "application/json"),
                ("content-length", "11"),
            ]),
            br#"{"ok":true}"#,
        )
    }

    #[test]
    fn grant_id_request_matches_recording() {
        let token = token(json!({
            "access_token": "ya29.test-access-token",
            "token_type": "Bearer",
            "expires_in": 3599,
            "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
            "grant_id": GRANT_ID,
            "provider_id": "google",
            "token_generation": TOKEN_GENERATION,
            "injection_header": "Authorization",
            "injection_format": "Bearer {token}"
        }));
        let mut row = exchange_row(
            &token,
            &[
                ("Authorization", "Bearer ya29.test-access-token"),
                ("User-Agent", USER_AGENT),
            ],
            "GET",
            "https://www.googleapis.com/calendar/v3/calendars/primary/events",
            Value::Null,
            ok_response(),
        );
        row.reason = Some("list events".into());
        assert_eq!(
            String::from_utf8(row.to_json()).unwrap(),
            recorded_audit_body("1_request_grant_id_plain_post")
        );
    }

    #[test]
    fn json_body_and_context_match_recording() {
        let token = token(json!({
            "access_token": "ya29.test-access-token",
            "grant_id": GRANT_ID,
            "provider_id": "google"
        }));
        let mut row = exchange_row(
            &token,
            &[
                ("Authorization", "Bearer ya29.test-access-token"),
                ("User-Agent", USER_AGENT),
            ],
            "POST",
            "https://api.example.com/v1/items",
            json!({"name": "caf\u{e9}"}),
            ok_response(),
        );
        row.context = Some(AuditContext::from([
            ("tool", "list_emails"),
            ("run_id", "run-42"),
            ("note", "caf\u{e9}"),
        ]));
        assert_eq!(
            String::from_utf8(row.to_json()).unwrap(),
            recorded_audit_body("4_v2_caller_type_context_actor")
        );
    }

    #[test]
    fn additional_injections_match_recording() {
        let token = token(json!({
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
        }));
        let row = exchange_row(
            &token,
            &[
                ("X-Api-Key", "sk_live_secret"),
                ("User-Agent", USER_AGENT),
                ("X-Account", "acct_123"),
            ],
            "GET",
            "https://api.acme.example/v1/items?limit=5",
            Value::Null,
            ok_response(),
        );
        let body = String::from_utf8(row.to_json()).unwrap();
        assert!(!body.contains("sk_live_secret"), "{body}");
        assert!(!body.contains("acct_123"), "{body}");
        assert_eq!(body, recorded_audit_body("7_additional_injections"));
    }

    #[test]
    fn provider_403_matches_recording() {
        let token = token(json!({
            "access_token": "ya29.test-access-token",
            "grant_id": GRANT_ID,
            "provider_id": "google",
            "token_generation": TOKEN_GENERATION
        }));
        let headers = response_headers(&[
            ("content-type", "application/json"),
            (
                "www-authenticate",
                r#"Bearer realm="x", error="insufficient_scope", scope="gmail.send gmail.modify""#,
            ),
            ("content-length", "21"),
        ]);
        let row = exchange_row(
            &token,
            &[
                ("Authorization", "Bearer ya29.test-access-token"),
                ("User-Agent", USER_AGENT),
            ],
            "GET",
            "https://gmail.googleapis.com/gmail/v1/users/me/messages",
            Value::Null,
            (403, headers, br#"{"error":"forbidden"}"#),
        );
        assert_eq!(
            String::from_utf8(row.to_json()).unwrap(),
            recorded_audit_body("9_provider_403_insufficient_scope")
        );
    }

    #[test]
    fn request_headers_drop_credentials_case_insensitively() {
        let injection = plan_injection(&token(json!({
            "access_token": "tok",
            "grant_id": GRANT_ID,
            "injection_header": "X-Token",
            "additional_credentials": {"c": "v"},
            "additional_injections": [
                {"target": "header", "key": "X-Extra", "value_source": "additional_credentials.c"},
                {"target": "header", "key": "X-Skipped",
                 "value_source": "additional_credentials.missing"}
            ]
        })))
        .unwrap();
        let sent = [
            ("x-token", "tok"),
            ("X-EXTRA", "v"),
            ("x-skipped", "caller value"),
            ("Cookie", "session=1"),
            ("X-Amz-Date", "20240101T000000Z"),
            ("x-auth-token", "t"),
            ("Accept", "application/json"),
            ("X-Trace", "a"),
            ("X-Trace", "b"),
            ("x-trace", "c"),
        ];
        let recorded = audit_request_headers(sent, &injection);
        assert_eq!(
            Value::Object(recorded),
            json!({"Accept": "application/json", "X-Trace": "a, b", "x-trace": "c"})
        );
    }

    #[test]
    fn request_headers_accept_header_map() {
        let injection = plan_injection(&token(json!({
            "access_token": "tok",
            "grant_id": GRANT_ID
        })))
        .unwrap();
        let mut headers = HeaderMap::new();
        injection.apply_headers(&mut headers);
        headers.insert(
            "user-agent",
            HeaderValue::from_static("alter-sdk-rust/0.1.0"),
        );
        let recorded = audit_request_headers(&headers, &injection);
        assert_eq!(
            Value::Object(recorded),
            json!({"user-agent": "alter-sdk-rust/0.1.0"})
        );
    }

    #[test]
    fn response_headers_join_and_filter() {
        let mut headers = HeaderMap::new();
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("vary", HeaderValue::from_static("accept"));
        headers.append("x-api-key", HeaderValue::from_static("echoed"));
        headers.append("vary", HeaderValue::from_static("origin"));
        headers.append("x-latin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let recorded = audit_response_headers(&headers);
        assert_eq!(
            serde_json::to_string(&recorded).unwrap(),
            r#"{"vary":"accept, origin","x-latin":"café"}"#
        );
    }

    #[test]
    fn raw_request_body_rules() {
        assert_eq!(describe_raw_request_body(b""), json!(""));
        assert_eq!(describe_raw_request_body(b"a=1&b=2"), json!("a=1&b=2"));
        assert_eq!(
            describe_raw_request_body("caf\u{e9}".as_bytes()),
            json!("caf\u{e9}")
        );
        assert_eq!(
            describe_raw_request_body(&[0xff, 0xfe]),
            json!("<binary body: 2 bytes>")
        );
        let limit = vec![b'a'; MAX_AUDIT_BODY_BYTES];
        assert_eq!(
            describe_raw_request_body(&limit),
            Value::String("a".repeat(MAX_AUDIT_BODY_BYTES))
        );
        let over = vec![b'a'; MAX_AUDIT_BODY_BYTES + 1];
        assert_eq!(
            describe_raw_request_body(&over),
            json!("<binary body: 10001 bytes>")
        );
    }

    #[test]
    fn response_body_rules() {
        assert_eq!(describe_response_body(b""), "");
        assert_eq!(describe_response_body(br#"{"ok":true}"#), r#"{"ok":true}"#);
        assert_eq!(
            describe_response_body(&[0x89, b'P', b'N', b'G']),
            "<binary response: 4 bytes>"
        );
        let limit = vec![b'a'; MAX_AUDIT_BODY_BYTES];
        assert_eq!(describe_response_body(&limit).len(), MAX_AUDIT_BODY_BYTES);
        let over = vec![0xff; MAX_AUDIT_BODY_BYTES + 1];
        assert_eq!(
            describe_response_body(&over),
            "<response too large: 10001 bytes>"
        );
    }

    #[test]
    fn transport_failure_row() {
        assert_eq!(
            describe_transport_failure(TransportFailure::Timeout(Duration::from_secs(30))),
            "<transport error: timeout after 30000ms>"
        );
        assert_eq!(
            describe_transport_failure(TransportFailure::Network),
            "<transport error: network>"
        );
        let row = AuditRow {
            grant_id: GRANT_ID.into(),
            provider_id: String::new(),
            token_generation: None,
            method: "DELETE".into(),
            url: "https://x.example/a".into(),
            request_headers: Map::new(),
            request_body: describe_raw_request_body(b"\xff"),
            response_status: 0,
            response_headers: None,
            response_body: describe_transport_failure(TransportFailure::Network),
            latency_ms: 12,
            reason: Some("r\u{e9}".into()),
            context: None,
        };
        assert_eq!(
            String::from_utf8(row.to_json()).unwrap(),
            concat!(
                r#"{"grant_id":"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f","provider_id":"","#,
                r#""token_generation":null,"method":"DELETE","url":"https://x.example/a","#,
                r#""request_headers":{},"request_body":"<binary body: 1 bytes>","#,
                r#""response_status":0,"response_headers":null,"#,
                r#""response_body":"<transport error: network>","latency_ms":12,"#,
                r#""reason":"r\u00e9","context":null}"#
            )
        );
    }

    proptest! {
        #[test]
        fn body_descriptions_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = describe_raw_request_body(&body);
            let _ = describe_response_body(&body);
        }

        #[test]
        fn sensitive_headers_never_recorded(
            name in prop::sample::select(SENSITIVE_AUDIT_HEADERS.to_vec()),
            upper in any::<bool>(),
            value in "[ -~]{0,20}",
        ) {
            let injection = plan_injection(&token(json!({
                "access_token": "tok",
                "grant_id": GRANT_ID
            })))
            .unwrap();
            let name = if upper { name.to_ascii_uppercase() } else { name.to_owned() };
            let recorded = audit_request_headers([(name.as_str(), value.as_str())], &injection);
            prop_assert!(recorded.is_empty());

            let mut headers = HeaderMap::new();
            if let Ok(header_value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), header_value);
            }
            prop_assert!(audit_response_headers(&headers).is_empty());
        }
    }
}
