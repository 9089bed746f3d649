//! The rejection of the bearer extractors.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::json_error::{CHALLENGE, CHALLENGE_INVALID_REQUEST, JsonError};
use crate::protocol::bearer::MalformedBearer;

/// The reason a bearer extractor rejected the request.
///
/// Both cases respond with `401 Unauthorized` with a `WWW-Authenticate` challenge and a JSON body
/// `{"error": …, "message": …}`:
///
/// | case | `WWW-Authenticate` | `error` |
/// |---|---|---|
/// | no `Authorization` header | `Bearer` | `missing_bearer_token` |
/// | a malformed `Authorization` header | `Bearer error="invalid_request"` | `invalid_request` |
///
/// RFC 6750 suggests `400` for `invalid_request`. This module responds with `401` for both, so that a
/// client that reacts to `401` by signing the user in again does so here too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerRejection {
    /// The request has no `Authorization` header.
    Missing,
    /// The `Authorization` header is not a valid bearer credential.
    Malformed(MalformedBearer),
}

impl fmt::Display for BearerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str(MISSING_MESSAGE),
            Self::Malformed(reason) => write!(f, "malformed Authorization header: {reason}"),
        }
    }
}

impl std::error::Error for BearerRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Missing => None,
            Self::Malformed(reason) => Some(reason),
        }
    }
}

const MISSING_MESSAGE: &str = "missing bearer token; send `Authorization: Bearer <token>`";

impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        tracing::debug!(target: "alter::axum", reason = %self, "rejected a request's bearer token");
        let reply = match self {
            Self::Missing => JsonError::new(
                StatusCode::UNAUTHORIZED,
                "missing_bearer_token",
                MISSING_MESSAGE,
            )
            .challenge(CHALLENGE),
            Self::Malformed(reason) => JsonError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                reason.message(),
            )
            .challenge(CHALLENGE_INVALID_REQUEST),
        };
        reply.into_response()
    }
}
