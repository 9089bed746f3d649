//! Moves a pending authorization forward: polls its sign-in session once, records the outcome,
//! and issues the authorization code once the user signed in.
//!
//! `/authorize`, the bridge page and its poll endpoint all call [`advance`], so a client gets
//! its code from whichever of them first polls the completed sign-in. The store exchanges the
//! pending record for the code in one step, so two racing calls issue one code.

use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::error::{Error, SignInErrorKind};
use crate::identity::UserToken;
use crate::vault::AuthStatus;

use super::AuthState;
use super::oauth_error::no_store;
use super::secret::{new_code, random_secret};
use super::store::{
    AuthorizationCode, FamilyId, PendingAuthorization, SecretHash, SignInOutcome, StoreError,
};

/// The state of a pending authorization after one step.
#[derive(Debug)]
pub(super) enum Progress {
    /// The user has not signed in yet.
    Pending(PendingAuthorization),
    /// The user signed in: the URL sends the client its code.
    Completed(String),
    /// The sign-in failed; the message is the backend's, the URL returns `access_denied` to
    /// the client.
    Failed {
        /// The reason, shown to the user.
        message: String,
        /// The client's redirect URI with `error=access_denied`.
        redirect: String,
    },
    /// The sign-in session expired before the user signed in.
    Expired,
    /// No pending authorization has this handle, or it expired.
    Unknown,
}

/// Polls the sign-in of the pending authorization with `handle` once and acts on the result.
///
/// # Errors
///
/// Returns the store's error when the store fails.
pub(super) async fn advance(state: &AuthState, handle: &str) -> Result<Progress, StoreError> {
    let hash = SecretHash::of(handle);
    let Some(pending) = state.store.pending(hash).await? else {
        return Ok(Progress::Unknown);
    };
    match &pending.outcome {
        SignInOutcome::SignedIn(user_token) => {
            let user_token = user_token.clone();
            return issue_code(state, hash, pending, user_token).await;
        }
        SignInOutcome::Failed(message) => {
            return Ok(failed(state, &pending, message.clone()));
        }
        SignInOutcome::Pending => {}
    }
    let status = state
        .vault
        .auth_session_status(pending.sign_in_session.expose_secret())
        .await;
    match status {
        Ok(AuthStatus::Completed(user)) => issue_code(state, hash, pending, user.user_token).await,
        Ok(_) => Ok(Progress::Pending(pending)),
        Err(Error::SignIn(error)) if error.kind == SignInErrorKind::Expired => {
            tracing::debug!(
                target: "alter::mcp::auth",
                client_id = %pending.client_id,
                "the sign-in session expired"
            );
            state.store.remove_pending(hash).await?;
            Ok(Progress::Expired)
        }
        Err(Error::SignIn(error)) if error.kind == SignInErrorKind::Failed => {
            tracing::debug!(
                target: "alter::mcp::auth",
                client_id = %pending.client_id,
                code = ?error.code,
                "the sign-in failed"
            );
            let message = error.message.clone();
            state
                .store
                .set_outcome(hash, SignInOutcome::Failed(message.clone()))
                .await?;
            Ok(failed(state, &pending, message))
        }
        Err(error) if error.status() == Some(404) => {
            tracing::debug!(
                target: "alter::mcp::auth",
                client_id = %pending.client_id,
                %error,
                "the backend no longer knows the sign-in session"
            );
            state.store.remove_pending(hash).await?;
            Ok(Progress::Expired)
        }
        Err(error) => {
            // A backend outage or a network failure may pass; the next poll tries again until
            // the authorization expires.
            tracing::debug!(
                target: "alter::mcp::auth",
                client_id = %pending.client_id,
                %error,
                "polling the sign-in session failed; still pending"
            );
            Ok(Progress::Pending(pending))
        }
    }
}

/// Exchanges the pending authorization for a code and returns the redirect that delivers it.
async fn issue_code(
    state: &AuthState,
    hash: SecretHash,
    pending: PendingAuthorization,
    user_token: UserToken,
) -> Result<Progress, StoreError> {
    let code = new_code();
    let record = AuthorizationCode {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        resource: pending.resource.clone(),
        scopes: pending.scopes.clone(),
        user_token,
        family: FamilyId(random_secret()),
        expires_at: pending.expires_at,
    };
    if !state
        .store
        .exchange_pending_for_code(hash, SecretHash::of(&code), record)
        .await?
    {
        return Ok(Progress::Unknown);
    }
    tracing::debug!(
        target: "alter::mcp::auth",
        client_id = %pending.client_id,
        "the user signed in; issued an authorization code"
    );
    let mut parameters = vec![("code", code.as_str())];
    if let Some(client_state) = &pending.state {
        parameters.push(("state", client_state));
    }
    let issuer = state.config.issuer_url();
    parameters.push(("iss", &issuer));
    Ok(Progress::Completed(redirect_with(
        &pending.redirect_uri,
        &parameters,
    )))
}

fn failed(state: &AuthState, pending: &PendingAuthorization, message: String) -> Progress {
    let issuer = state.config.issuer_url();
    let mut parameters = vec![
        ("error", "access_denied"),
        ("error_description", "the user did not sign in"),
    ];
    if let Some(client_state) = &pending.state {
        parameters.push(("state", client_state));
    }
    parameters.push(("iss", &issuer));
    Progress::Failed {
        message,
        redirect: redirect_with(&pending.redirect_uri, &parameters),
    }
}

/// Appends `parameters` to the query of `redirect_uri`, keeping the query it already has.
///
/// `redirect_uri` was checked against the client's registration before it was stored, so it
/// parses; a URI that does not is returned unchanged rather than panicking.
pub(super) fn redirect_with(redirect_uri: &str, parameters: &[(&str, &str)]) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in parameters {
            query.append_pair(name, value);
        }
    }
    url.into()
}

/// Returns a 302 to `location`, kept out of caches because the URL may carry a code.
pub(super) fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(LOCATION, value);
    }
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_existing_query() {
        assert_eq!(
            redirect_with(
                "http://127.0.0.1:3000/cb?app=1",
                &[("code", "c"), ("state", "a b&c")]
            ),
            "http://127.0.0.1:3000/cb?app=1&code=c&state=a+b%26c"
        );
        assert_eq!(
            redirect_with("cursor://anysphere/cb", &[("code", "c")]),
            "cursor://anysphere/cb?code=c"
        );
    }
}
