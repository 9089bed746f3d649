//! The refresh-token grant of the token endpoint, with rotation.
//!
//! Each refresh returns a new access and refresh token, and the presented refresh token is
//! marked rotated. Presenting a rotated token again within the grace window (30 seconds by
//! default) returns another new pair, and every pair stays valid: a client that lost a
//! response, or refreshed from several tasks at once, keeps a working token whichever
//! response it keeps. Presenting it after the window is taken for a stolen token: the request
//! fails with `invalid_grant` and every token issued from the same authorization is revoked.

use std::collections::HashMap;

use super::AuthState;
use super::oauth_error::{OAuthError, excerpt};
use super::secret::{new_access_token, new_refresh_token};
use super::store::{NextTokens, Rotation, SecretHash};
use super::token::{TokenResponse, check_resource, invalid_grant, required, store_error};

/// Exchanges a refresh token for a new pair.
///
/// `client_id` is optional, because a public client proves nothing with it, but when sent it
/// must be the client the token was issued to. `scope` may narrow the scopes of the new access
/// token; the new refresh token keeps the scopes of the presented one.
pub(crate) async fn refresh_grant(
    state: &AuthState,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let refresh_token = required(form, "refresh_token")?;
    check_resource(state, form)?;
    let refresh_hash = SecretHash::of(refresh_token);
    let Some(grant) = state
        .store
        .refresh_token(refresh_hash)
        .await
        .map_err(|error| store_error(&error))?
    else {
        return Err(invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    };
    if let Some(client_id) = form.get("client_id")
        && *client_id != grant.client_id
    {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let scopes = match form.get("scope") {
        Some(requested) => narrowed_scopes(requested, &grant.scopes)?,
        None => grant.scopes.clone(),
    };

    let now = state.now();
    let lifetimes = state.config.lifetimes;
    let access_token = new_access_token();
    let new_refresh_token = new_refresh_token();
    let next = NextTokens {
        access_hash: SecretHash::of(&access_token),
        refresh_hash: SecretHash::of(&new_refresh_token),
        scopes: scopes.clone(),
        access_expires_at: now + lifetimes.access_token.as_secs(),
        refresh_expires_at: now + lifetimes.refresh_token.as_secs(),
    };
    let rotation = state
        .store
        .rotate_refresh(refresh_hash, next, now, lifetimes.refresh_grace.as_secs())
        .await
        .map_err(|error| store_error(&error))?;
    let client_id = grant.client_id.as_str();
    match rotation {
        Rotation::Rotated(_) => {
            tracing::debug!(target: "alter::mcp::auth", client_id, "rotated a refresh token");
        }
        Rotation::RotatedInGrace(_) => {
            tracing::debug!(target: "alter::mcp::auth", client_id, "a rotated refresh token was presented within the grace window; issued another pair");
        }
        Rotation::Reused(_) => {
            tracing::debug!(target: "alter::mcp::auth", client_id, "a rotated refresh token was presented after the grace window; revoked its family");
            return Err(invalid_grant(
                "the refresh token was already used; every token of this authorization is revoked, so authorize again",
            ));
        }
        Rotation::Unknown => {
            return Err(invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
    }
    Ok(TokenResponse {
        access_token,
        expires_in: lifetimes.access_token.as_secs(),
        refresh_token: new_refresh_token,
        scopes,
    })
}

/// Parses the `scope` parameter of a refresh, which must name a subset of `granted`.
fn narrowed_scopes(requested: &str, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|scope| !scope.is_empty()) {
        if !granted.iter().any(|granted| granted == scope) {
            return Err(OAuthError::bad_request(
                "invalid_scope",
                format!(
                    "the scope {:?} was not granted to this refresh token",
                    excerpt(scope)
                ),
            ));
        }
        if !scopes.iter().any(|kept| kept == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            "the scope parameter is empty: omit it to keep the granted scopes",
        ));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted() -> Vec<String> {
        vec!["mcp".to_owned(), "admin".to_owned()]
    }

    #[test]
    fn subset_accepted() {
        assert_eq!(narrowed_scopes("admin", &granted()).unwrap(), ["admin"]);
        assert_eq!(
            narrowed_scopes("admin  mcp admin", &granted()).unwrap(),
            ["admin", "mcp"]
        );
    }

    #[test]
    fn wider_scope_rejected() {
        let error = narrowed_scopes("mcp root", &granted()).unwrap_err();
        assert_eq!(error.code, "invalid_scope");
        assert!(
            error.description.contains("\"root\""),
            "{}",
            error.description
        );
    }

    #[test]
    fn empty_scope_rejected() {
        let error = narrowed_scopes(" ", &granted()).unwrap_err();
        assert_eq!(error.code, "invalid_scope");
    }
}
