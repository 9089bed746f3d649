//! [`MemoryStore`], the authorization state of a single process, kept in memory.
//!
//! Every method takes one lock, does its whole step and releases it before returning, so each
//! is atomic with respect to every other call. Nothing is awaited under the lock.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::clock::unix_now;
use super::store::{
    AuthStore, AuthorizationCode, CodeRedemption, FamilyId, IssuedTokens, NextTokens,
    PendingAuthorization, RegisteredClient, Rotation, SecretHash, SignInOutcome, StoreError,
    StoreFuture, StoreLimits, TokenGrant, UnixSeconds,
};

/// How long a client with no live authorization or token is kept once the store is at its
/// client limit: after this age it makes room for a new registration.
const IDLE_CLIENT_SECONDS: u64 = 24 * 60 * 60;

/// How long a revoked family is remembered, so that tokens stored for it by a request that
/// was already running (a code redeemed just before its replay revoked the family) are
/// dropped. The request that redeems a code stores its tokens at once, so ten minutes is
/// ample.
const REVOKED_FAMILY_SECONDS: u64 = 10 * 60;

/// An [`AuthStore`] in the memory of one process.
///
/// Use it for a single process; replicas behind a load balancer need a shared store. The
/// limits of [`StoreLimits`] apply as follows:
///
/// - `clients`: registered clients. At the limit, clients registered more than 24 hours ago
///   that have no pending authorization, code or token left are dropped to make room.
/// - `pending`: pending authorizations plus the codes issued from them, spent ones included,
///   until they expire.
/// - `access_tokens`: access tokens, and separately refresh tokens (rotated ones count until
///   they expire).
///
/// Expired records are never returned. They are dropped by [`AuthStore::sweep`] and, when an
/// insert finds the store at a limit, before the limit is checked.
pub struct MemoryStore {
    limits: StoreLimits,
    state: Mutex<State>,
    clock: Clock,
}

#[derive(Clone)]
enum Clock {
    System,
    #[cfg(test)]
    Manual(std::sync::Arc<std::sync::atomic::AtomicU64>),
}

impl Clock {
    fn now(&self) -> UnixSeconds {
        match self {
            Self::System => unix_now(),
            #[cfg(test)]
            Self::Manual(now) => now.load(std::sync::atomic::Ordering::SeqCst),
        }
    }
}

#[derive(Default)]
struct State {
    clients: HashMap<String, RegisteredClient>,
    pending: HashMap<SecretHash, PendingAuthorization>,
    codes: HashMap<SecretHash, CodeEntry>,
    access: HashMap<SecretHash, TokenGrant>,
    refresh: HashMap<SecretHash, RefreshEntry>,
    families: HashMap<FamilyId, FamilyTokens>,
    /// Revoked families, with the time until which they are remembered.
    revoked_families: HashMap<FamilyId, UnixSeconds>,
}

enum CodeEntry {
    Live(AuthorizationCode),
    Spent {
        family: FamilyId,
        expires_at: UnixSeconds,
    },
}

impl CodeEntry {
    fn expires_at(&self) -> UnixSeconds {
        match self {
            Self::Live(code) => code.expires_at,
            Self::Spent { expires_at, .. } => *expires_at,
        }
    }

    fn client_id(&self) -> Option<&str> {
        match self {
            Self::Live(code) => Some(&code.client_id),
            Self::Spent { .. } => None,
        }
    }
}

struct RefreshEntry {
    grant: TokenGrant,
    /// When the token was first rotated; `None` while it is the family's newest.
    rotated_at: Option<UnixSeconds>,
}

#[derive(Default)]
struct FamilyTokens {
    access: HashSet<SecretHash>,
    refresh: HashSet<SecretHash>,
}

impl MemoryStore {
    /// Creates an empty store with the default limits.
    pub fn new() -> Self {
        Self::with_limits(StoreLimits::default())
    }

    /// Creates an empty store with `limits`.
    pub fn with_limits(limits: StoreLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
            clock: Clock::System,
        }
    }

    /// Creates an empty store whose clock the test sets.
    #[cfg(test)]
    fn with_manual_clock(
        limits: StoreLimits,
        now: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
            clock: Clock::Manual(now),
        }
    }

    /// Returns the limits the store enforces.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code under this lock panics, so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run<T: Send + 'static>(
        &self,
        step: impl FnOnce(&mut State, UnixSeconds) -> Result<T, StoreError>,
    ) -> StoreFuture<'_, T> {
        let now = self.clock.now();
        let result = step(&mut self.lock(), now);
        Box::pin(std::future::ready(result))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("limits", &self.limits)
            .field("clients", &state.clients.len())
            .field("pending", &state.pending.len())
            .field("codes", &state.codes.len())
            .field("access_tokens", &state.access.len())
            .field("refresh_tokens", &state.refresh.len())
            .finish()
    }
}

impl State {
    fn sweep(&mut self, now: UnixSeconds) {
        self.pending.retain(|_, pending| pending.expires_at > now);
        self.codes.retain(|_, code| code.expires_at() > now);
        self.revoked_families.retain(|_, until| *until > now);

        let mut expired_access = Vec::new();
        self.access.retain(|hash, grant| {
            let live = grant.expires_at > now;
            if !live {
                expired_access.push((*hash, grant.family.clone()));
            }
            live
        });
        let mut expired_refresh = Vec::new();
        self.refresh.retain(|hash, entry| {
            let live = entry.grant.expires_at > now;
            if !live {
                expired_refresh.push((*hash, entry.grant.family.clone()));
            }
            live
        });
        for (hash, family) in expired_access {
            if let Some(tokens) = self.families.get_mut(&family) {
                tokens.access.remove(&hash);
            }
        }
        for (hash, family) in expired_refresh {
            if let Some(tokens) = self.families.get_mut(&family) {
                tokens.refresh.remove(&hash);
            }
        }
        self.families
            .retain(|_, tokens| !tokens.access.is_empty() || !tokens.refresh.is_empty());
    }

    /// Drops clients registered before `now - IDLE_CLIENT_SECONDS` that no live record refers
    /// to. Call it after [`State::sweep`].
    fn drop_idle_clients(&mut self, now: UnixSeconds) {
        let mut referenced: HashSet<&str> = HashSet::new();
        referenced.extend(self.pending.values().map(|p| p.client_id.as_str()));
        referenced.extend(self.codes.values().filter_map(CodeEntry::client_id));
        referenced.extend(self.access.values().map(|g| g.client_id.as_str()));
        referenced.extend(self.refresh.values().map(|e| e.grant.client_id.as_str()));
        let idle: Vec<String> = self
            .clients
            .values()
            .filter(|client| {
                client
                    .client_id_issued_at
                    .saturating_add(IDLE_CLIENT_SECONDS)
                    <= now
                    && !referenced.contains(client.client_id.as_str())
            })
            .map(|client| client.client_id.clone())
            .collect();
        for client_id in idle {
            self.clients.remove(&client_id);
        }
    }

    fn has_room_for_tokens(&self, limits: StoreLimits) -> bool {
        self.access.len() < limits.access_tokens && self.refresh.len() < limits.access_tokens
    }

    /// Makes room for one more access and refresh token, dropping expired records first when
    /// the store is at its limit.
    fn ensure_token_room(
        &mut self,
        limits: StoreLimits,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        if !self.has_room_for_tokens(limits) {
            self.sweep(now);
        }
        if self.has_room_for_tokens(limits) {
            Ok(())
        } else {
            Err(StoreError::Full("access tokens"))
        }
    }

    fn store_tokens(&mut self, tokens: IssuedTokens, now: UnixSeconds) {
        let family = tokens.access.family.clone();
        if self
            .revoked_families
            .get(&family)
            .is_some_and(|until| *until > now)
        {
            return;
        }
        let entry = self.families.entry(family).or_default();
        entry.access.insert(tokens.access_hash);
        entry.refresh.insert(tokens.refresh_hash);
        self.access.insert(tokens.access_hash, tokens.access);
        self.refresh.insert(
            tokens.refresh_hash,
            RefreshEntry {
                grant: tokens.refresh,
                rotated_at: None,
            },
        );
    }

    fn revoke_family(&mut self, family: &FamilyId, now: UnixSeconds) {
        if let Some(tokens) = self.families.remove(family) {
            for hash in tokens.access {
                self.access.remove(&hash);
            }
            for hash in tokens.refresh {
                self.refresh.remove(&hash);
            }
        }
        self.revoked_families
            .insert(family.clone(), now.saturating_add(REVOKED_FAMILY_SECONDS));
    }
}

impl AuthStore for MemoryStore {
    fn insert_client(&self, client: RegisteredClient) -> StoreFuture<'_, ()> {
        let limit = self.limits.clients;
        self.run(move |state, now| {
            if state.clients.len() >= limit {
                state.sweep(now);
                state.drop_idle_clients(now);
            }
            if state.clients.len() >= limit {
                return Err(StoreError::Full("registered clients"));
            }
            state.clients.insert(client.client_id.clone(), client);
            Ok(())
        })
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<RegisteredClient>> {
        self.run(|state, _| Ok(state.clients.get(client_id).cloned()))
    }

    fn insert_pending(
        &self,
        handle: SecretHash,
        pending: PendingAuthorization,
    ) -> StoreFuture<'_, ()> {
        let limit = self.limits.pending;
        self.run(move |state, now| {
            let count = |state: &State| state.pending.len() + state.codes.len();
            if count(state) >= limit {
                state.sweep(now);
            }
            if count(state) >= limit {
                return Err(StoreError::Full("pending authorizations"));
            }
            state.pending.insert(handle, pending);
            Ok(())
        })
    }

    fn pending(&self, handle: SecretHash) -> StoreFuture<'_, Option<PendingAuthorization>> {
        self.run(move |state, now| {
            Ok(state
                .pending
                .get(&handle)
                .filter(|pending| pending.expires_at > now)
                .cloned())
        })
    }

    fn set_outcome(&self, handle: SecretHash, outcome: SignInOutcome) -> StoreFuture<'_, bool> {
        self.run(move |state, now| {
            match state
                .pending
                .get_mut(&handle)
                .filter(|pending| pending.expires_at > now)
            {
                Some(pending) => {
                    pending.outcome = outcome;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    fn exchange_pending_for_code(
        &self,
        handle: SecretHash,
        code_hash: SecretHash,
        code: AuthorizationCode,
    ) -> StoreFuture<'_, bool> {
        self.run(move |state, now| {
            match state.pending.remove(&handle) {
                Some(pending) if pending.expires_at > now => {
                    state.codes.insert(code_hash, CodeEntry::Live(code));
                    Ok(true)
                }
                // An expired authorization is dropped, as a sweep would.
                Some(_) | None => Ok(false),
            }
        })
    }

    fn remove_pending(&self, handle: SecretHash) -> StoreFuture<'_, ()> {
        self.run(move |state, _| {
            state.pending.remove(&handle);
            Ok(())
        })
    }

    fn redeem_code(&self, code_hash: SecretHash) -> StoreFuture<'_, CodeRedemption> {
        self.run(move |state, now| {
            let Some(entry) = state.codes.get_mut(&code_hash) else {
                return Ok(CodeRedemption::Unknown);
            };
            let expires_at = entry.expires_at();
            if expires_at <= now {
                state.codes.remove(&code_hash);
                return Ok(CodeRedemption::Unknown);
            }
            match entry {
                CodeEntry::Live(code) => {
                    let spent = CodeEntry::Spent {
                        family: code.family.clone(),
                        expires_at,
                    };
                    let CodeEntry::Live(code) = std::mem::replace(entry, spent) else {
                        unreachable!("the entry was matched as live above");
                    };
                    Ok(CodeRedemption::Redeemed(code))
                }
                CodeEntry::Spent { family, .. } => Ok(CodeRedemption::Replayed(family.clone())),
            }
        })
    }

    fn insert_tokens(&self, tokens: IssuedTokens) -> StoreFuture<'_, ()> {
        let limits = self.limits;
        self.run(move |state, now| {
            state.ensure_token_room(limits, now)?;
            state.store_tokens(tokens, now);
            Ok(())
        })
    }

    fn access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        self.run(move |state, now| {
            Ok(state
                .access
                .get(&access_hash)
                .filter(|grant| grant.expires_at > now)
                .cloned())
        })
    }

    fn refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        self.run(move |state, now| {
            Ok(state
                .refresh
                .get(&refresh_hash)
                .filter(|entry| entry.grant.expires_at > now)
                .map(|entry| entry.grant.clone()))
        })
    }

    fn rotate_refresh(
        &self,
        refresh_hash: SecretHash,
        next: NextTokens,
        now: UnixSeconds,
        grace_seconds: u64,
    ) -> StoreFuture<'_, Rotation> {
        let limits = self.limits;
        self.run(move |state, _| {
            let Some(entry) = state
                .refresh
                .get(&refresh_hash)
                .filter(|entry| entry.grant.expires_at > now)
            else {
                return Ok(Rotation::Unknown);
            };
            let in_grace = match entry.rotated_at {
                None => false,
                Some(rotated_at) if now.saturating_sub(rotated_at) < grace_seconds => true,
                Some(_) => {
                    let family = entry.grant.family.clone();
                    state.revoke_family(&family, now);
                    return Ok(Rotation::Reused(family));
                }
            };
            let presented = entry.grant.clone();
            state.ensure_token_room(limits, now)?;

            let access = TokenGrant {
                scopes: next.scopes,
                expires_at: next.access_expires_at,
                ..presented.clone()
            };
            // RFC 6749, section 6: a new refresh token keeps the scope of the one presented,
            // even when the client narrowed the scope of the new access token.
            let refresh = TokenGrant {
                expires_at: next.refresh_expires_at,
                ..presented
            };
            state.store_tokens(
                IssuedTokens {
                    access_hash: next.access_hash,
                    access,
                    refresh_hash: next.refresh_hash,
                    refresh: refresh.clone(),
                },
                now,
            );
            if let Some(entry) = state.refresh.get_mut(&refresh_hash) {
                entry.rotated_at.get_or_insert(now);
            }
            Ok(if in_grace {
                Rotation::RotatedInGrace(refresh)
            } else {
                Rotation::Rotated(refresh)
            })
        })
    }

    fn revoke_access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, ()> {
        self.run(move |state, _| {
            if let Some(grant) = state.access.remove(&access_hash)
                && let Some(tokens) = state.families.get_mut(&grant.family)
            {
                tokens.access.remove(&access_hash);
            }
            Ok(())
        })
    }

    fn revoke_refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<FamilyId>> {
        self.run(move |state, now| {
            let Some(family) = state
                .refresh
                .get(&refresh_hash)
                .map(|entry| entry.grant.family.clone())
            else {
                return Ok(None);
            };
            state.revoke_family(&family, now);
            Ok(Some(family))
        })
    }

    fn revoke_family(&self, family: FamilyId) -> StoreFuture<'_, ()> {
        self.run(move |state, now| {
            state.revoke_family(&family, now);
            Ok(())
        })
    }

    fn sweep(&self, now: UnixSeconds) -> StoreFuture<'_, ()> {
        self.run(move |state, _| {
            state.sweep(now);
            Ok(())
        })
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
