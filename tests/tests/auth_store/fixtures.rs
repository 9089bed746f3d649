//! Records for the store tests, each with fresh random secrets.

use std::time::{SystemTime, UNIX_EPOCH};

use alter::UserToken;
use alter::mcp::auth::store::{
    AuthorizationCode, FamilyId, IssuedTokens, NextTokens, PendingAuthorization, RegisteredClient,
    SecretHash, SignInOutcome, TokenGrant, UnixSeconds,
};
use serde_json::json;

pub(crate) const RESOURCE: &str = "http://127.0.0.1:8000/mcp";

pub(crate) fn now() -> UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Returns a random secret, like those the server hands out.
pub(crate) fn secret(kind: &str) -> String {
    format!("{kind}_{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn hash() -> SecretHash {
    SecretHash::of(&secret("secret"))
}

pub(crate) fn family() -> FamilyId {
    FamilyId(secret("family"))
}

pub(crate) fn user() -> UserToken {
    UserToken::from(secret("idp_user_token"))
}

pub(crate) fn client(client_id: &str) -> RegisteredClient {
    let issued_at = now();
    let metadata = json!({
        "client_id": client_id,
        "client_id_issued_at": issued_at,
        "client_name": "Contract test client",
        "redirect_uris": ["http://127.0.0.1:3000/callback"],
        "token_endpoint_auth_method": "none",
    });
    RegisteredClient {
        client_id: client_id.to_owned(),
        client_id_issued_at: issued_at,
        metadata: metadata.as_object().expect("an object").clone(),
        redirect_uris: vec!["http://127.0.0.1:3000/callback".to_owned()],
    }
}

pub(crate) fn pending(expires_at: UnixSeconds) -> PendingAuthorization {
    PendingAuthorization {
        client_id: "client-1".to_owned(),
        redirect_uri: "http://127.0.0.1:3000/callback".to_owned(),
        state: Some("state-ü-1".to_owned()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        resource: RESOURCE.to_owned(),
        scopes: vec!["mcp".to_owned(), "profile".to_owned()],
        sign_in_session: UserToken::from(secret("signin_session")),
        sign_in_url: "http://127.0.0.1:9000/signin/abc".to_owned(),
        created_at: now(),
        expires_at,
        outcome: SignInOutcome::Pending,
    }
}

pub(crate) fn code(
    family: FamilyId,
    user: UserToken,
    expires_at: UnixSeconds,
) -> AuthorizationCode {
    AuthorizationCode {
        client_id: "client-1".to_owned(),
        redirect_uri: "http://127.0.0.1:3000/callback".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        resource: RESOURCE.to_owned(),
        scopes: vec!["mcp".to_owned()],
        user_token: user,
        family,
        expires_at,
    }
}

pub(crate) fn grant(
    family: &FamilyId,
    user: &UserToken,
    scopes: &[&str],
    expires_at: UnixSeconds,
) -> TokenGrant {
    TokenGrant {
        client_id: "client-1".to_owned(),
        resource: RESOURCE.to_owned(),
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        user_token: user.clone(),
        family: family.clone(),
        expires_at,
    }
}

/// Returns a token pair for `user` in `family`: the access token lives an hour, the refresh
/// token a day.
pub(crate) fn issued(family: &FamilyId, user: &UserToken) -> IssuedTokens {
    let now = now();
    IssuedTokens {
        access_hash: hash(),
        access: grant(family, user, &["mcp", "profile"], now + 3_600),
        refresh_hash: hash(),
        refresh: grant(family, user, &["mcp", "profile"], now + 86_400),
    }
}

pub(crate) fn next(scopes: &[&str]) -> NextTokens {
    let now = now();
    NextTokens {
        access_hash: hash(),
        refresh_hash: hash(),
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        access_expires_at: now + 3_600,
        refresh_expires_at: now + 86_400,
    }
}
