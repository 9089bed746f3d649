//! Reading request bodies: a size cap, the content type each endpoint accepts, and form
//! parsing.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use super::oauth_error::{OAuthError, excerpt};

/// The largest request body an endpoint reads. Registration metadata and token requests are a
/// few hundred bytes; anything near this size is a mistake or an attack.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// A body format an endpoint accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// `application/x-www-form-urlencoded`, for the token and revocation endpoints.
    Form,
    /// `application/json`, for registration.
    Json,
}

impl BodyFormat {
    fn media_type(self) -> &'static str {
        match self {
            Self::Form => "application/x-www-form-urlencoded",
            Self::Json => "application/json",
        }
    }
}

/// Reads a body of `format`, at most [`MAX_BODY_BYTES`] long.
///
/// # Errors
///
/// Returns 400 with `error_code` for another content type, and 413 `invalid_request` for a
/// larger body, without reading more than the cap.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    format: BodyFormat,
    error_code: &'static str,
) -> Result<Bytes, OAuthError> {
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    if !media_type.is_some_and(|media_type| media_type.eq_ignore_ascii_case(format.media_type())) {
        return Err(OAuthError::bad_request(
            error_code,
            format!(
                "the request body must be {}, but the Content-Type is {}",
                format.media_type(),
                media_type.map_or_else(
                    || "missing".to_owned(),
                    |media_type| format!("{media_type:?}")
                )
            ),
        ));
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if over_limit {
                too_large()
            } else {
                OAuthError::bad_request("invalid_request", "failed to read the request body")
            }
        })
}

fn too_large() -> OAuthError {
    OAuthError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Parses a form body into its parameters.
///
/// # Errors
///
/// Returns 400 `invalid_request` when a parameter appears twice, which RFC 6749 (section 3.2)
/// forbids, or when the body is not UTF-8.
pub(crate) fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    if std::str::from_utf8(body).is_err() {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "the form body is not valid UTF-8",
        ));
    }
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if parameters.contains_key(name.as_ref()) {
            return Err(OAuthError::bad_request(
                "invalid_request",
                format!("the parameter {:?} appears more than once", excerpt(&name)),
            ));
        }
        parameters.insert(name.into_owned(), value.into_owned());
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        headers
    }

    #[tokio::test]
    async fn form_with_charset_accepted() {
        let body = read_body(
            &headers("application/x-www-form-urlencoded; charset=UTF-8"),
            Body::from("a=1"),
            BodyFormat::Form,
            "invalid_request",
        )
        .await
        .unwrap();
        assert_eq!(&body[..], b"a=1");
    }

    #[tokio::test]
    async fn json_on_form_endpoint_rejected() {
        let error = read_body(
            &headers("application/json"),
            Body::from("{}"),
            BodyFormat::Form,
            "invalid_request",
        )
        .await
        .unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.code, "invalid_request");
        assert!(
            error.description.contains("\"application/json\""),
            "{}",
            error.description
        );
    }

    #[tokio::test]
    async fn missing_content_type_rejected() {
        let error = read_body(
            &HeaderMap::new(),
            Body::from("{}"),
            BodyFormat::Json,
            "invalid_client_metadata",
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, "invalid_client_metadata");
        assert!(
            error.description.contains("missing"),
            "{}",
            error.description
        );
    }

    #[tokio::test]
    async fn oversized_body_rejected() {
        let error = read_body(
            &headers("application/json"),
            Body::from(vec![b' '; MAX_BODY_BYTES + 1]),
            BodyFormat::Json,
            "invalid_client_metadata",
        )
        .await
        .unwrap_err();
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn body_at_cap_accepted() {
        let body = read_body(
            &headers("application/json"),
            Body::from(vec![b' '; MAX_BODY_BYTES]),
            BodyFormat::Json,
            "invalid_client_metadata",
        )
        .await
        .unwrap();
        assert_eq!(body.len(), MAX_BODY_BYTES);
    }

    #[test]
    fn form_parsed() {
        let form = parse_form(b"grant_type=refresh_token&scope=a+b%20c").unwrap();
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["scope"], "a b c");
    }

    #[test]
    fn duplicate_parameter_rejected() {
        let error = parse_form(b"code=a&code=b").unwrap_err();
        assert_eq!(error.code, "invalid_request");
        assert!(
            error.description.contains("\"code\""),
            "{}",
            error.description
        );
    }

    #[test]
    fn duplicate_long_name_cut() {
        let name = "n".repeat(MAX_BODY_BYTES / 4);
        let body = format!("{name}=1&{name}=2");
        let error = parse_form(body.as_bytes()).unwrap_err();
        assert_eq!(error.code, "invalid_request");
        assert!(
            error.description.len() < 1024,
            "{}",
            error.description.len()
        );
    }

    #[test]
    fn non_utf8_form_rejected() {
        assert!(parse_form(b"a=\xff").is_err());
    }
}
