//! The JSON forms of the records as Redis stores them, and their conversion to and from the
//! store's types.
//!
//! Every secret inside a record (the backend's sign-in session token, the user's
//! identity-provider token) is sealed with the key name (and field) that stores it as
//! associated data.

use serde::{Deserialize, Serialize};

use super::crypto::Sealer;
use super::keys::field_context;
use crate::identity::UserToken;
use crate::mcp::auth::store::{
    AuthorizationCode, FamilyId, PendingAuthorization, SignInOutcome, TokenGrant, UnixSeconds,
};

/// A stored record that does not decode or whose secret does not open.
#[derive(Debug)]
pub(super) struct InvalidRecord(pub(super) &'static str);

const SIGN_IN_SESSION_FIELD: &str = "sign_in_session";
const OUTCOME_FIELD: &str = "outcome";

/// A pending authorization without its outcome, which is stored in a field of its own.
#[derive(Serialize, Deserialize)]
struct StoredPending {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    resource: String,
    scopes: Vec<String>,
    sign_in_session: String,
    sign_in_url: String,
    created_at: UnixSeconds,
    expires_at: UnixSeconds,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum StoredOutcome {
    Pending,
    SignedIn { user_token: String },
    Failed { message: String },
}

#[derive(Serialize, Deserialize)]
struct StoredCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    resource: String,
    scopes: Vec<String>,
    user_token: String,
    family: String,
    expires_at: UnixSeconds,
}

/// The part of a token grant that never changes across rotations.
#[derive(Serialize, Deserialize)]
struct TokenBinding {
    client_id: String,
    resource: String,
}

/// The fields of a token hash, as the scripts write them.
pub(super) struct TokenFields {
    pub(super) binding: String,
    pub(super) family: String,
    pub(super) scopes: String,
    pub(super) expires_at: UnixSeconds,
    pub(super) sealed_user: String,
}

pub(super) fn encode_pending(
    sealer: &Sealer,
    key: &str,
    pending: &PendingAuthorization,
) -> (String, String) {
    let record = StoredPending {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        state: pending.state.clone(),
        code_challenge: pending.code_challenge.clone(),
        resource: pending.resource.clone(),
        scopes: pending.scopes.clone(),
        sign_in_session: sealer.seal(
            pending.sign_in_session.expose_secret(),
            &field_context(key, SIGN_IN_SESSION_FIELD),
        ),
        sign_in_url: pending.sign_in_url.clone(),
        created_at: pending.created_at,
        expires_at: pending.expires_at,
    };
    (
        to_json(&record),
        encode_outcome(sealer, key, &pending.outcome),
    )
}

pub(super) fn encode_outcome(sealer: &Sealer, key: &str, outcome: &SignInOutcome) -> String {
    let stored = match outcome {
        SignInOutcome::Pending => StoredOutcome::Pending,
        SignInOutcome::SignedIn(user) => StoredOutcome::SignedIn {
            user_token: sealer.seal(user.expose_secret(), &field_context(key, OUTCOME_FIELD)),
        },
        SignInOutcome::Failed(message) => StoredOutcome::Failed {
            message: message.clone(),
        },
    };
    to_json(&stored)
}

pub(super) fn decode_pending(
    sealer: &Sealer,
    key: &str,
    record: &str,
    outcome: &str,
) -> Result<PendingAuthorization, InvalidRecord> {
    let record: StoredPending =
        serde_json::from_str(record).map_err(|_| InvalidRecord("pending authorization"))?;
    let outcome: StoredOutcome =
        serde_json::from_str(outcome).map_err(|_| InvalidRecord("sign-in outcome"))?;
    let sign_in_session = sealer
        .open(
            &record.sign_in_session,
            &field_context(key, SIGN_IN_SESSION_FIELD),
        )
        .map_err(|_| InvalidRecord("sign-in session token"))?;
    let outcome = match outcome {
        StoredOutcome::Pending => SignInOutcome::Pending,
        StoredOutcome::SignedIn { user_token } => {
            let user = sealer
                .open(&user_token, &field_context(key, OUTCOME_FIELD))
                .map_err(|_| InvalidRecord("signed-in user token"))?;
            SignInOutcome::SignedIn(UserToken::from(user))
        }
        StoredOutcome::Failed { message } => SignInOutcome::Failed(message),
    };
    Ok(PendingAuthorization {
        client_id: record.client_id,
        redirect_uri: record.redirect_uri,
        state: record.state,
        code_challenge: record.code_challenge,
        resource: record.resource,
        scopes: record.scopes,
        sign_in_session: UserToken::from(sign_in_session),
        sign_in_url: record.sign_in_url,
        created_at: record.created_at,
        expires_at: record.expires_at,
        outcome,
    })
}

pub(super) fn encode_code(sealer: &Sealer, key: &str, code: &AuthorizationCode) -> String {
    to_json(&StoredCode {
        client_id: code.client_id.clone(),
        redirect_uri: code.redirect_uri.clone(),
        code_challenge: code.code_challenge.clone(),
        resource: code.resource.clone(),
        scopes: code.scopes.clone(),
        user_token: sealer.seal(code.user_token.expose_secret(), key),
        family: code.family.0.clone(),
        expires_at: code.expires_at,
    })
}

pub(super) fn decode_code(
    sealer: &Sealer,
    key: &str,
    record: &str,
) -> Result<AuthorizationCode, InvalidRecord> {
    let stored: StoredCode =
        serde_json::from_str(record).map_err(|_| InvalidRecord("authorization code"))?;
    let user = sealer
        .open(&stored.user_token, key)
        .map_err(|_| InvalidRecord("user token of an authorization code"))?;
    Ok(AuthorizationCode {
        client_id: stored.client_id,
        redirect_uri: stored.redirect_uri,
        code_challenge: stored.code_challenge,
        resource: stored.resource,
        scopes: stored.scopes,
        user_token: UserToken::from(user),
        family: FamilyId(stored.family),
        expires_at: stored.expires_at,
    })
}

/// Encodes a grant's client and resource as JSON.
pub(super) fn encode_binding(grant: &TokenGrant) -> String {
    to_json(&TokenBinding {
        client_id: grant.client_id.clone(),
        resource: grant.resource.clone(),
    })
}

pub(super) fn encode_scopes(scopes: &[String]) -> String {
    to_json(&scopes)
}

/// Rebuilds a grant from a token hash and its family's sealed user token, stored under
/// `family_user_key`.
pub(super) fn decode_grant(
    sealer: &Sealer,
    family_user_key: &str,
    fields: &TokenFields,
) -> Result<TokenGrant, InvalidRecord> {
    let binding: TokenBinding =
        serde_json::from_str(&fields.binding).map_err(|_| InvalidRecord("token binding"))?;
    let scopes: Vec<String> =
        serde_json::from_str(&fields.scopes).map_err(|_| InvalidRecord("token scopes"))?;
    let user = sealer
        .open(&fields.sealed_user, family_user_key)
        .map_err(|_| InvalidRecord("user token of a token family"))?;
    Ok(TokenGrant {
        client_id: binding.client_id,
        resource: binding.resource,
        scopes,
        user_token: UserToken::from(user),
        family: FamilyId(fields.family.clone()),
        expires_at: fields.expires_at,
    })
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    // The stored types hold only strings, integers and string lists, which always serialize.
    serde_json::to_string(value).expect("a stored record serializes to JSON")
}
