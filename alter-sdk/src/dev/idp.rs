//! The dev identity provider: named users and the HS256 JWTs that identify them.
//!
//! A user token is a compact JWS: `base64url(header) . base64url(claims) . base64url(HMAC)`,
//! with header `{"alg":"HS256","typ":"JWT"}` and claims `iss` (the DevVault base URL), `sub`
//! (the user name), `iat` and `exp`. The HMAC key is random per DevVault instance, so tokens
//! from another instance or a restart are rejected.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::Uri;
use serde_json::{Value, json};

use super::clock::unix_now;
use super::errors::ApiError;
use super::form;
use super::server::DevState;
use super::wire;

type HmacSha256 = Hmac<Sha256>;

const MAX_USER_NAME_LEN: usize = 64;
/// Maximum lifetime `POST /dev/users/{name}/token?expires_in=…` accepts: 30 days.
const MAX_TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// The header of every token DevVault issues; verification rejects any other.
const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Users and their tokens.
pub(super) struct Idp {
    issuer: String,
    secret: [u8; 32],
    token_lifetime: Duration,
    users: RwLock<BTreeMap<String, SystemTime>>,
}

impl fmt::Debug for Idp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idp")
            .field("issuer", &self.issuer)
            .field("token_lifetime", &self.token_lifetime)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    iat: u64,
    exp: u64,
}

/// The reason a user token was rejected. The messages are safe to send back because they never
/// quote the token.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TokenError {
    Malformed,
    WrongAlgorithm,
    BadSignature,
    WrongIssuer,
    Expired { expired_at: u64 },
    IssuedInFuture,
    UnknownUser,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("the user token is not a well-formed JWT"),
            Self::WrongAlgorithm => f.write_str("the user token is not signed with HS256"),
            Self::BadSignature => f.write_str(
                "the user token's signature does not verify; it was not issued by this \
                 DevVault instance (tokens do not survive a restart)",
            ),
            Self::WrongIssuer => f.write_str("the user token was issued by another DevVault"),
            Self::Expired { expired_at } => write!(
                f,
                "the user token expired at Unix time {expired_at}; mint a new one with \
                 POST /dev/users/{{name}}/token"
            ),
            Self::IssuedInFuture => f.write_str("the user token's `iat` is in the future"),
            Self::UnknownUser => f.write_str("the user token names an unknown user"),
        }
    }
}

impl Idp {
    /// Creates an identity provider whose tokens name `issuer`.
    pub(super) fn new(issuer: String, token_lifetime: Duration) -> Self {
        Self {
            issuer,
            secret: rand::random(),
            token_lifetime,
            users: RwLock::new(BTreeMap::new()),
        }
    }

    /// Returns the lifetime of tokens minted without an explicit one.
    pub(super) fn token_lifetime(&self) -> Duration {
        self.token_lifetime
    }

    /// Creates `name` if needed and mints a token for it that expires after `lifetime`.
    pub(super) fn mint(&self, name: &str, lifetime: Duration) -> Result<String, String> {
        self.mint_at(name, unix_now(), lifetime.as_secs())
    }

    /// Creates `name` if needed and mints a token for it that expired a minute ago.
    pub(super) fn mint_expired(&self, name: &str) -> Result<String, String> {
        self.mint_at(name, unix_now().saturating_sub(3600), 3540)
    }

    fn mint_at(&self, name: &str, issued_at: u64, lifetime_secs: u64) -> Result<String, String> {
        validate_user_name(name)?;
        self.users
            .write()
            .expect("user list lock poisoned")
            .entry(name.to_owned())
            .or_insert_with(SystemTime::now);
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: name.to_owned(),
            iat: issued_at,
            exp: issued_at + lifetime_secs,
        };
        let claims = serde_json::to_vec(&claims).expect("claims serialize");
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(JWT_HEADER),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()));
        Ok(format!("{signing_input}.{signature}"))
    }

    /// Verifies `token` and returns the user name it identifies.
    pub(super) fn verify(&self, token: &str) -> Result<String, TokenError> {
        let mut segments = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let signing_input = &token[..header.len() + 1 + claims.len()];
        let header: serde_json::Value =
            serde_json::from_slice(&decode_segment(header)?).map_err(|_| TokenError::Malformed)?;
        if header.get("alg").and_then(serde_json::Value::as_str) != Some("HS256") {
            return Err(TokenError::WrongAlgorithm);
        }

        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length works");
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&decode_segment(signature)?)
            .map_err(|_| TokenError::BadSignature)?;

        let claims: Claims =
            serde_json::from_slice(&decode_segment(claims)?).map_err(|_| TokenError::Malformed)?;
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        let now = unix_now();
        if claims.exp <= now {
            return Err(TokenError::Expired {
                expired_at: claims.exp,
            });
        }
        if claims.iat > now + wire::MAX_CLOCK_SKEW_SECS {
            return Err(TokenError::IssuedInFuture);
        }
        let known = self
            .users
            .read()
            .expect("user list lock poisoned")
            .contains_key(&claims.sub);
        if !known {
            return Err(TokenError::UnknownUser);
        }
        Ok(claims.sub)
    }

    /// Returns the names of all users, sorted.
    pub(super) fn users(&self) -> Vec<String> {
        self.users
            .read()
            .expect("user list lock poisoned")
            .keys()
            .cloned()
            .collect()
    }

    fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length works");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

fn decode_segment(segment: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)
}

/// `POST /dev/users/{name}/token[?expires_in=SECONDS]`: creates the user if needed and returns
/// `{"user": name, "user_token": jwt, "expires_in": seconds}`.
pub(super) async fn mint_token(
    State(state): State<Arc<DevState>>,
    name: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name.map_err(|_| {
        ApiError::invalid_request("the user name in the path is not valid percent-encoded UTF-8")
    })?;
    let lifetime = match requested_lifetime(uri.query().unwrap_or(""))? {
        Some(lifetime) => lifetime,
        None => state.idp.token_lifetime(),
    };
    let token = state
        .idp
        .mint(&name, lifetime)
        .map_err(ApiError::invalid_request)?;
    tracing::debug!(target: "alter::dev::idp", user = %name, "minted a user token");
    Ok(Json(json!({
        "user": name,
        "user_token": token,
        "expires_in": lifetime.as_secs(),
    })))
}

fn requested_lifetime(query: &str) -> Result<Option<Duration>, ApiError> {
    let Some(value) = form::parse(query.as_bytes()).remove("expires_in") else {
        return Ok(None);
    };
    match value.parse::<u64>() {
        Ok(secs) if (1..=MAX_TOKEN_LIFETIME_SECS).contains(&secs) => {
            Ok(Some(Duration::from_secs(secs)))
        }
        _ => Err(ApiError::invalid_request(format!(
            "expires_in must be a whole number of seconds from 1 to {MAX_TOKEN_LIFETIME_SECS}"
        ))),
    }
}

/// Checks that `name` is a user name: 1 to 64 characters from `a-z 0-9 . _ -`, starting with a
/// letter or digit.
pub(super) fn validate_user_name(name: &str) -> Result<(), String> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_USER_NAME_LEN
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if well_formed {
        return Ok(());
    }
    let truncated_name: String = name.chars().take(MAX_USER_NAME_LEN).collect();
    Err(format!(
        "invalid user name {truncated_name:?}: use 1 to {MAX_USER_NAME_LEN} characters from a-z, 0-9, \
         '.', '_' and '-', starting with a letter or digit, e.g. \"alice\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp() -> Idp {
        Idp::new("http://127.0.0.1:1".into(), Duration::from_secs(3600))
    }

    #[test]
    fn minted_token_verifies_to_its_user() {
        let idp = idp();
        let token = idp.mint("alice", idp.token_lifetime()).unwrap();
        assert_eq!(idp.verify(&token).unwrap(), "alice");
        assert_eq!(idp.users(), ["alice"]);
    }

    #[test]
    fn claims_carry_issuer_and_times() {
        let idp = idp();
        let token = idp.mint("bob", Duration::from_secs(60)).unwrap();
        let claims = token.split('.').nth(1).unwrap();
        let claims: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims.iss, "http://127.0.0.1:1");
        assert_eq!(claims.sub, "bob");
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn expired_token_is_rejected() {
        let idp = idp();
        let token = idp.mint_expired("alice").unwrap();
        assert!(matches!(
            idp.verify(&token),
            Err(TokenError::Expired { .. })
        ));
    }

    #[test]
    fn token_of_other_instance_is_rejected() {
        let token = idp().mint("alice", Duration::from_secs(60)).unwrap();
        assert_eq!(idp().verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_claims_are_rejected() {
        let idp = idp();
        idp.mint("mallory", Duration::from_secs(60)).unwrap();
        let token = idp.mint("alice", Duration::from_secs(60)).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD
            .encode(br#"{"iss":"http://127.0.0.1:1","sub":"mallory","iat":1,"exp":99999999999}"#);
        parts[1] = &forged;
        assert_eq!(idp.verify(&parts.join(".")), Err(TokenError::BadSignature));
    }

    #[test]
    fn unsigned_token_is_rejected() {
        let idp = idp();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"x","sub":"alice","iat":1,"exp":2}"#);
        assert_eq!(
            idp.verify(&format!("{header}.{claims}.")),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let idp = idp();
        for token in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"] {
            assert!(idp.verify(token).is_err(), "{token:?}");
        }
    }

    #[test]
    fn user_names_are_slugs() {
        for good in ["alice", "a", "bob-2", "x.y_z", "0"] {
            assert!(validate_user_name(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(65);
        for bad in ["", "Alice", "-alice", "al ice", "al/ice", "é", &too_long] {
            assert!(validate_user_name(bad).is_err(), "{bad}");
        }
    }
}
