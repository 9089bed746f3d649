//! The state of the authorization server, behind a trait so that one process can keep it in
//! memory and several replicas can share it in a networked store.
//!
//! Every secret the server hands out (pending-authorization handles, codes, access and refresh
//! tokens) is looked up by its [`SecretHash`], never by its value, so a store keeps nothing that
//! would let a reader act as a client. The one secret a record does carry is the user's
//! identity-provider token ([`UserToken`]), which tools need to act as the user; a store that
//! leaves the process encrypts it.
//!
//! Each method is one atomic step. The flows in the sibling modules decide what to do; the
//! store only guarantees that two replicas racing on the same record see one winner.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::UserToken;

/// The future a store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Unix time in whole seconds.
pub type UnixSeconds = u64;

/// The SHA-256 of a secret the server handed out, the key under which a store finds it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Hashes `secret`.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Returns the hash as lower-case hex, for stores keyed by strings.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Returns the raw hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.to_hex()[..8])
    }
}

/// Identifies every token issued from one authorization code, so that a replayed code or a
/// reused refresh token can revoke all of them at once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FamilyId(pub String);

/// A client registered through dynamic client registration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// The identifier the server issued.
    pub client_id: String,
    /// When the client registered.
    pub client_id_issued_at: UnixSeconds,
    /// The registered metadata as a JSON object, exactly as the registration response
    /// returned it, `client_id` and `client_id_issued_at` included.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The registered redirect URIs, as validated.
    pub redirect_uris: Vec<String>,
}

/// The state of an authorization while the user signs in.
#[derive(Clone, Debug)]
pub enum SignInOutcome {
    /// The user has not finished signing in.
    Pending,
    /// The user signed in; the token is theirs.
    SignedIn(UserToken),
    /// The sign-in failed or expired; the text is shown to the user.
    Failed(String),
}

/// An authorization request waiting for the user to sign in.
#[derive(Clone, Debug)]
pub struct PendingAuthorization {
    /// The client that asked.
    pub client_id: String,
    /// The redirect URI of the request, exactly as sent.
    pub redirect_uri: String,
    /// The client's `state`, echoed on the redirect.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The resource the tokens will be bound to.
    pub resource: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The backend's sign-in session token, a secret.
    pub sign_in_session: UserToken,
    /// The sign-in page the user opens.
    pub sign_in_url: String,
    /// When `/authorize` was called.
    pub created_at: UnixSeconds,
    /// When the authorization, and any code issued from it, expires.
    pub expires_at: UnixSeconds,
    /// The state of the sign-in.
    pub outcome: SignInOutcome,
}

/// An authorization code, issued once the user signed in.
#[derive(Clone, Debug)]
pub struct AuthorizationCode {
    /// The client the code was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The resource the tokens will be bound to.
    pub resource: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The signed-in user.
    pub user_token: UserToken,
    /// The family of the tokens this code is exchanged for.
    pub family: FamilyId,
    /// When the code expires.
    pub expires_at: UnixSeconds,
}

/// The result of redeeming a code.
#[derive(Clone, Debug)]
pub enum CodeRedemption {
    /// The code was live and is now spent.
    Redeemed(AuthorizationCode),
    /// The code was already spent: the caller revokes this family.
    Replayed(FamilyId),
    /// No such code, or it expired.
    Unknown,
}

/// The grant behind an access or refresh token.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    /// The client the token was issued to.
    pub client_id: String,
    /// The resource the token is bound to.
    pub resource: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The signed-in user.
    pub user_token: UserToken,
    /// The token family.
    pub family: FamilyId,
    /// When the token expires.
    pub expires_at: UnixSeconds,
}

/// A new access and refresh token, as stored.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    /// The hash of the access token.
    pub access_hash: SecretHash,
    /// The grant behind the access token.
    pub access: TokenGrant,
    /// The hash of the refresh token.
    pub refresh_hash: SecretHash,
    /// The grant behind the refresh token.
    pub refresh: TokenGrant,
}

/// The pair a refresh stores: the hashes of the new tokens, their scopes and lifetimes.
#[derive(Clone, Debug)]
pub struct NextTokens {
    /// The hash of the new access token.
    pub access_hash: SecretHash,
    /// The hash of the new refresh token.
    pub refresh_hash: SecretHash,
    /// The scopes of the new access token, a subset of the presented token's. The new refresh
    /// token keeps the presented token's scopes, as RFC 6749 (section 6) requires.
    pub scopes: Vec<String>,
    /// When the new access token expires.
    pub access_expires_at: UnixSeconds,
    /// When the new refresh token expires.
    pub refresh_expires_at: UnixSeconds,
}

/// The result of presenting a refresh token.
#[derive(Clone, Debug)]
pub enum Rotation {
    /// The token was live; the new pair is stored and the presented token is marked rotated.
    /// The grant is the new refresh token's.
    Rotated(TokenGrant),
    /// The token had been rotated within the grace window; the new pair is stored beside the
    /// one issued first, and both stay live. The grant is the new refresh token's.
    RotatedInGrace(TokenGrant),
    /// The token had been rotated before the grace window: its whole family is revoked.
    Reused(FamilyId),
    /// No such token, or it expired or was revoked.
    Unknown,
}

/// A store failure.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store is at its limit for records of this kind.
    #[error("the authorization store is full: {0}")]
    Full(&'static str),
    /// The store cannot be reached now; the request may be retried.
    #[error("the authorization store is unavailable: {0}")]
    Unavailable(String),
}

/// Limits on how many records of each kind a store holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Registered clients.
    pub clients: usize,
    /// Authorizations waiting for a sign-in.
    pub pending: usize,
    /// Live access tokens.
    pub access_tokens: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            clients: 10_000,
            pending: 10_000,
            access_tokens: 100_000,
        }
    }
}

/// The state of the authorization server.
///
/// Records carry their own `expires_at`; a store never returns an expired record. Every
/// method is atomic with respect to every other call on the same store, from this process or
/// any other sharing it.
pub trait AuthStore: Send + Sync + 'static {
    /// Stores a new client, failing with [`StoreError::Full`] at the client limit.
    fn insert_client(&self, client: RegisteredClient) -> StoreFuture<'_, ()>;

    /// Returns the client with `client_id`.
    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<RegisteredClient>>;

    /// Stores a pending authorization under the hash of its handle, failing with
    /// [`StoreError::Full`] at the pending limit.
    fn insert_pending(
        &self,
        handle: SecretHash,
        pending: PendingAuthorization,
    ) -> StoreFuture<'_, ()>;

    /// Returns the pending authorization with this handle.
    fn pending(&self, handle: SecretHash) -> StoreFuture<'_, Option<PendingAuthorization>>;

    /// Records the sign-in outcome of a pending authorization; returns false when it no longer
    /// exists.
    fn set_outcome(&self, handle: SecretHash, outcome: SignInOutcome) -> StoreFuture<'_, bool>;

    /// Removes the pending authorization and stores `code` under `code_hash` in one step.
    ///
    /// Returns false, storing nothing, when the authorization no longer exists. Two racing
    /// polls therefore issue one code.
    fn exchange_pending_for_code(
        &self,
        handle: SecretHash,
        code_hash: SecretHash,
        code: AuthorizationCode,
    ) -> StoreFuture<'_, bool>;

    /// Removes a pending authorization.
    fn remove_pending(&self, handle: SecretHash) -> StoreFuture<'_, ()>;

    /// Spends a code. A spent code is remembered until it would have expired, because a
    /// replay must be distinguished from an unknown code.
    fn redeem_code(&self, code_hash: SecretHash) -> StoreFuture<'_, CodeRedemption>;

    /// Stores a new access and refresh token, failing with [`StoreError::Full`] at the
    /// access-token limit.
    fn insert_tokens(&self, tokens: IssuedTokens) -> StoreFuture<'_, ()>;

    /// Returns the grant behind a live access token.
    fn access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>>;

    /// Returns the grant behind a refresh token that is still stored, rotated or not.
    fn refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>>;

    /// Presents a refresh token at `now` and, when it may be rotated, stores the pair `next`
    /// describes in the same step, with the presented token's client, resource, user and
    /// family.
    fn rotate_refresh(
        &self,
        refresh_hash: SecretHash,
        next: NextTokens,
        now: UnixSeconds,
        grace_seconds: u64,
    ) -> StoreFuture<'_, Rotation>;

    /// Revokes one access token.
    fn revoke_access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, ()>;

    /// Revokes a refresh token and every token of its family; returns the family when the
    /// token was known.
    fn revoke_refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<FamilyId>>;

    /// Revokes every token of a family. The family stays revoked for at least ten minutes:
    /// tokens stored for it in that time are dropped, so a code redeemed just before its
    /// replay was detected yields no live token.
    fn revoke_family(&self, family: FamilyId) -> StoreFuture<'_, ()>;

    /// Drops expired records; a store whose records expire by themselves does nothing.
    fn sweep(&self, now: UnixSeconds) -> StoreFuture<'_, ()>;
}

/// A shared store, so that the application can keep a handle to the store it gives
/// [`McpAuthBuilder::store`](super::McpAuthBuilder::store).
impl<T: AuthStore + ?Sized> AuthStore for std::sync::Arc<T> {
    fn insert_client(&self, client: RegisteredClient) -> StoreFuture<'_, ()> {
        (**self).insert_client(client)
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<RegisteredClient>> {
        (**self).client(client_id)
    }

    fn insert_pending(
        &self,
        handle: SecretHash,
        pending: PendingAuthorization,
    ) -> StoreFuture<'_, ()> {
        (**self).insert_pending(handle, pending)
    }

    fn pending(&self, handle: SecretHash) -> StoreFuture<'_, Option<PendingAuthorization>> {
        (**self).pending(handle)
    }

    fn set_outcome(&self, handle: SecretHash, outcome: SignInOutcome) -> StoreFuture<'_, bool> {
        (**self).set_outcome(handle, outcome)
    }

    fn exchange_pending_for_code(
        &self,
        handle: SecretHash,
        code_hash: SecretHash,
        code: AuthorizationCode,
    ) -> StoreFuture<'_, bool> {
        (**self).exchange_pending_for_code(handle, code_hash, code)
    }

    fn remove_pending(&self, handle: SecretHash) -> StoreFuture<'_, ()> {
        (**self).remove_pending(handle)
    }

    fn redeem_code(&self, code_hash: SecretHash) -> StoreFuture<'_, CodeRedemption> {
        (**self).redeem_code(code_hash)
    }

    fn insert_tokens(&self, tokens: IssuedTokens) -> StoreFuture<'_, ()> {
        (**self).insert_tokens(tokens)
    }

    fn access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        (**self).access_token(access_hash)
    }

    fn refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        (**self).refresh_token(refresh_hash)
    }

    fn rotate_refresh(
        &self,
        refresh_hash: SecretHash,
        next: NextTokens,
        now: UnixSeconds,
        grace_seconds: u64,
    ) -> StoreFuture<'_, Rotation> {
        (**self).rotate_refresh(refresh_hash, next, now, grace_seconds)
    }

    fn revoke_access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, ()> {
        (**self).revoke_access_token(access_hash)
    }

    fn revoke_refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<FamilyId>> {
        (**self).revoke_refresh_token(refresh_hash)
    }

    fn revoke_family(&self, family: FamilyId) -> StoreFuture<'_, ()> {
        (**self).revoke_family(family)
    }

    fn sweep(&self, now: UnixSeconds) -> StoreFuture<'_, ()> {
        (**self).sweep(now)
    }
}
