//! Grants with their provider tokens, and the audit log.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::clock::unix_now;
use super::provider::TokenSet;
use super::secret::Secret;
use super::wire;
use crate::protocol::api_key::KeyType;

/// A grant as DevVault shows it to tests: everything but the provider tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantInfo {
    /// The grant id.
    pub id: Uuid,
    /// The DevVault user the grant belongs to.
    pub user: String,
    /// The provider id.
    pub provider_id: String,
    /// The label requested by the connect session, if any.
    pub label: Option<String>,
    /// The provider account, read from the provider's user-info endpoint.
    pub account_identifier: Option<String>,
    /// The scopes the provider granted.
    pub scopes: Vec<String>,
    /// Changes whenever the provider token is replaced (by a refresh or a new connect).
    pub token_generation: Uuid,
    /// When the grant was created.
    pub created_at: SystemTime,
    /// When the current provider access token expires, if the token response included `expires_in`.
    pub token_expires_at: Option<SystemTime>,
    /// When the grant itself expires under the connect session's `grant_policy`, if it set one.
    pub expires_at: Option<SystemTime>,
    /// Whether the grant may be delegated to managed agents.
    pub delegable: bool,
    /// The managed agents the grant is delegated to.
    pub delegated_to: Vec<Uuid>,
}

/// One audit row received on `POST /sdk/oauth/audit/api-call`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AuditRecord {
    /// The DevVault user who owns the grant the row names.
    pub user: String,
    /// The grant id.
    pub grant_id: Uuid,
    /// The provider id sent in the row (may be empty).
    pub provider_id: String,
    /// The token generation sent in the row.
    pub token_generation: Option<String>,
    /// The provider request's method.
    pub method: String,
    /// The provider request's URL.
    pub url: String,
    /// The provider response status, or 0 after a transport error.
    pub response_status: u16,
    /// The latency the client measured, in milliseconds.
    pub latency_ms: u64,
    /// The reason sent in the row.
    pub reason: Option<String>,
    /// The audit context sent in the row.
    pub context: Option<Map<String, Value>>,
    /// The type of the API key that signed the audit request.
    pub key_type: KeyType,
    /// `X-Alter-Caller` of the audit request.
    pub caller: Option<String>,
    /// `X-Alter-Caller-Type` of the audit request.
    pub caller_type: Option<String>,
    /// `X-Alter-Context` of the audit request, parsed.
    pub header_context: Option<Map<String, Value>>,
    /// The whole row as received, including request and response headers and bodies.
    pub row: Map<String, Value>,
    /// When DevVault received the row.
    pub received_at: SystemTime,
}

/// A grant and its current provider tokens.
#[derive(Clone, Debug)]
pub(super) struct StoredGrant {
    pub(super) id: Uuid,
    pub(super) user: String,
    pub(super) provider_id: String,
    pub(super) label: Option<String>,
    pub(super) account_identifier: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) access_token: Secret,
    pub(super) refresh_token: Option<Secret>,
    /// Unix seconds.
    pub(super) expires_at: Option<u64>,
    pub(super) token_generation: Uuid,
    pub(super) created_at: SystemTime,
    /// Set for a grant usable only through proxy mode.
    pub(super) restrictions: Option<Restrictions>,
    /// The grant policy applied to the grant, if any.
    pub(super) policy: Option<AppliedPolicy>,
    /// Whether the grant may be delegated to managed agents.
    pub(super) delegable: bool,
    /// The managed agents the grant is delegated to.
    pub(super) delegated_to: Vec<Uuid>,
    sequence: u64,
    /// Held while the grant's token is refreshed, so concurrent requests refresh once.
    pub(super) refresh_lock: Arc<tokio::sync::Mutex<()>>,
}

impl StoredGrant {
    /// Returns whether the access token expires within the refresh margin.
    pub(super) fn needs_refresh(&self, now: u64) -> bool {
        self.expires_at
            .is_some_and(|expires_at| expires_at <= now + wire::REFRESH_MARGIN_SECS)
    }

    /// Returns whether the grant's policy expiry has passed.
    pub(super) fn is_expired(&self, now: u64) -> bool {
        self.policy.is_some_and(|policy| policy.expires_at <= now)
    }

    /// Returns the access token's remaining lifetime in whole seconds.
    pub(super) fn expires_in(&self, now: u64) -> Option<u64> {
        self.expires_at
            .map(|expires_at| expires_at.saturating_sub(now))
    }

    pub(super) fn info(&self) -> GrantInfo {
        GrantInfo {
            id: self.id,
            user: self.user.clone(),
            provider_id: self.provider_id.clone(),
            label: self.label.clone(),
            account_identifier: self.account_identifier.clone(),
            scopes: self.scopes.clone(),
            token_generation: self.token_generation,
            created_at: self.created_at,
            token_expires_at: self
                .expires_at
                .map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
            expires_at: self
                .policy
                .map(|policy| UNIX_EPOCH + Duration::from_secs(policy.expires_at)),
            delegable: self.delegable,
            delegated_to: self.delegated_to.clone(),
        }
    }
}

/// The uses a restricted grant is limited to; such a grant is usable only through proxy mode,
/// which enforces this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Restrictions {
    /// Allowed upper-case methods; `None` allows every method.
    pub(super) allowed_methods: Option<Vec<String>>,
    /// Allowed URL prefixes, matched at a path-segment boundary; `None` allows every URL.
    pub(super) allowed_endpoints: Option<Vec<String>>,
}

impl Restrictions {
    /// Returns why `method` on `url` is not allowed, or `None` when it is.
    pub(super) fn violation(&self, method: &str, url: &str) -> Option<String> {
        if let Some(methods) = &self.allowed_methods
            && !methods
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(method))
        {
            return Some(format!(
                "the grant allows only the methods {}, not {method}",
                methods.join(", ")
            ));
        }
        if let Some(endpoints) = &self.allowed_endpoints
            && !endpoints.iter().any(|allowed| within(url, allowed))
        {
            return Some(format!(
                "the grant allows only URLs starting with {}",
                endpoints.join(", ")
            ));
        }
        None
    }
}

/// Delegates `grant` to `agent` when the grant is delegable; a policy refuses it otherwise.
fn delegate(grant: &mut StoredGrant, agent: Option<Uuid>) {
    if let Some(agent) = agent
        && grant.delegable
        && !grant.delegated_to.contains(&agent)
    {
        grant.delegated_to.push(agent);
    }
}

/// Returns whether `url` is `prefix` or lies under it: `/v1/me` allows `/v1/me/photo` and
/// `/v1/me?x=1` but not `/v1/messages`.
fn within(url: &str, prefix: &str) -> bool {
    match url.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with(['/', '?', '#']),
        None => false,
    }
}

/// A grant policy's expiry, applied to a grant when its connect session completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct AppliedPolicy {
    /// Unix seconds.
    pub(super) expires_at: u64,
    /// Unix seconds.
    pub(super) created_at: u64,
}

/// The result of a completed authorization, before it becomes a grant.
#[derive(Debug)]
pub(super) struct NewGrant {
    pub(super) user: String,
    pub(super) provider_id: String,
    pub(super) label: Option<String>,
    pub(super) account_identifier: Option<String>,
    pub(super) requested_scopes: Vec<String>,
    pub(super) tokens: TokenSet,
    /// A grant to update instead of matching by user, provider, account and label.
    pub(super) repair: Option<Uuid>,
    /// Restrictions for a new grant; an updated grant keeps its own.
    pub(super) restrictions: Option<Restrictions>,
    /// The grant's expiry under the session's grant policy, in Unix seconds. It replaces the
    /// policy of an updated grant, whose earlier expiry the new consent supersedes.
    pub(super) expires_at: Option<u64>,
    /// The session's `delegable`; without it a new grant is delegable and an updated one keeps
    /// its setting.
    pub(super) delegable: Option<bool>,
    /// The managed agent to delegate the grant to.
    pub(super) delegate_to: Option<Uuid>,
    /// The scope constraint of the session: the grant keeps only these scopes.
    pub(super) scope_constraint: Option<Vec<String>>,
}

/// Whether [`Store::upsert`] created a grant or updated one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operation {
    Creation,
    Reauth,
}

impl Operation {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Creation => "creation",
            Self::Reauth => "reauth",
        }
    }
}

/// All grants and audit rows.
#[derive(Debug, Default)]
pub(super) struct Store {
    grants: RwLock<HashMap<Uuid, StoredGrant>>,
    next_sequence: Mutex<u64>,
    audit: Mutex<VecDeque<AuditRecord>>,
}

impl Store {
    /// Stores the result of an authorization. A grant with the same user, provider, account
    /// and label (or the grant being repaired) gets the new tokens; otherwise a grant is
    /// created.
    pub(super) fn upsert(&self, new: NewGrant) -> (StoredGrant, Operation) {
        let now = unix_now();
        let mut scopes = new.tokens.scopes.clone().unwrap_or(new.requested_scopes);
        if let Some(constraint) = &new.scope_constraint {
            scopes.retain(|scope| constraint.contains(scope));
        }
        let policy = new.expires_at.map(|expires_at| AppliedPolicy {
            expires_at,
            created_at: now,
        });
        let mut grants = self.grants.write().expect("grant store lock poisoned");
        let existing = grants.values_mut().find(|grant| match new.repair {
            Some(id) => grant.id == id,
            None => {
                grant.user == new.user
                    && grant.provider_id == new.provider_id
                    && grant.account_identifier == new.account_identifier
                    && grant.label == new.label
            }
        });
        if let Some(grant) = existing {
            grant.scopes = scopes;
            grant.account_identifier = new.account_identifier;
            grant.access_token = new.tokens.access_token;
            if new.tokens.refresh_token.is_some() {
                grant.refresh_token = new.tokens.refresh_token;
            }
            grant.expires_at = new.tokens.expires_in.map(|secs| now + secs);
            grant.token_generation = Uuid::new_v4();
            grant.policy = policy;
            if let Some(delegable) = new.delegable {
                grant.delegable = delegable;
            }
            delegate(grant, new.delegate_to);
            return (grant.clone(), Operation::Reauth);
        }

        let mut grant = StoredGrant {
            id: Uuid::new_v4(),
            user: new.user,
            provider_id: new.provider_id,
            label: new.label,
            account_identifier: new.account_identifier,
            scopes,
            access_token: new.tokens.access_token,
            refresh_token: new.tokens.refresh_token,
            expires_at: new.tokens.expires_in.map(|secs| now + secs),
            token_generation: Uuid::new_v4(),
            created_at: SystemTime::now(),
            restrictions: new.restrictions,
            policy,
            delegable: new.delegable.unwrap_or(true),
            delegated_to: Vec::new(),
            sequence: self.next_sequence(),
            refresh_lock: Arc::default(),
        };
        delegate(&mut grant, new.delegate_to);
        grants.insert(grant.id, grant.clone());
        (grant, Operation::Creation)
    }

    /// Replaces a grant's tokens after a refresh; a missing refresh token keeps the old one.
    pub(super) fn replace_tokens(&self, id: Uuid, tokens: TokenSet) -> Option<StoredGrant> {
        let mut grants = self.grants.write().expect("grant store lock poisoned");
        let grant = grants.get_mut(&id)?;
        grant.access_token = tokens.access_token;
        if tokens.refresh_token.is_some() {
            grant.refresh_token = tokens.refresh_token;
        }
        if let Some(scopes) = tokens.scopes {
            grant.scopes = scopes;
        }
        grant.expires_at = tokens.expires_in.map(|secs| unix_now() + secs);
        grant.token_generation = Uuid::new_v4();
        Some(grant.clone())
    }

    /// Marks a grant's access token as expired, so the next retrieval refreshes it.
    pub(super) fn expire_token(&self, id: Uuid) -> Option<StoredGrant> {
        let mut grants = self.grants.write().expect("grant store lock poisoned");
        let grant = grants.get_mut(&id)?;
        grant.expires_at = Some(unix_now().saturating_sub(1));
        Some(grant.clone())
    }

    /// Returns one grant.
    pub(super) fn get(&self, id: Uuid) -> Option<StoredGrant> {
        self.grants
            .read()
            .expect("grant store lock poisoned")
            .get(&id)
            .cloned()
    }

    /// Returns the grants of `user` for `provider_id`, oldest first.
    pub(super) fn for_user(&self, user: &str, provider_id: &str) -> Vec<StoredGrant> {
        let mut found: Vec<StoredGrant> = self
            .grants
            .read()
            .expect("grant store lock poisoned")
            .values()
            .filter(|grant| grant.user == user && grant.provider_id == provider_id)
            .cloned()
            .collect();
        found.sort_by_key(|grant| grant.sequence);
        found
    }

    /// Returns all grants, oldest first.
    pub(super) fn all(&self) -> Vec<GrantInfo> {
        let grants = self.grants.read().expect("grant store lock poisoned");
        let mut all: Vec<&StoredGrant> = grants.values().collect();
        all.sort_by_key(|grant| grant.sequence);
        all.into_iter().map(StoredGrant::info).collect()
    }

    /// Appends an audit row, dropping the oldest once the log is full.
    pub(super) fn record_audit(&self, record: AuditRecord) {
        let mut audit = self.audit.lock().expect("audit log lock poisoned");
        if audit.len() == wire::MAX_AUDIT_ROWS {
            audit.pop_front();
        }
        audit.push_back(record);
    }

    /// Returns the audit log, oldest first.
    pub(super) fn audit_log(&self) -> Vec<AuditRecord> {
        self.audit
            .lock()
            .expect("audit log lock poisoned")
            .iter()
            .cloned()
            .collect()
    }

    fn next_sequence(&self) -> u64 {
        let mut next = self.next_sequence.lock().expect("sequence lock poisoned");
        *next += 1;
        *next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_match_methods_and_path_prefixes() {
        let restrictions = Restrictions {
            allowed_methods: Some(vec!["GET".into()]),
            allowed_endpoints: Some(vec!["https://api.example/v1/me".into()]),
        };
        for allowed in [
            "https://api.example/v1/me",
            "https://api.example/v1/me/photo",
            "https://api.example/v1/me?size=2",
        ] {
            assert_eq!(restrictions.violation("get", allowed), None, "{allowed}");
        }
        for denied in ["https://api.example/v1/messages", "https://api.example/v1"] {
            assert!(restrictions.violation("GET", denied).is_some(), "{denied}");
        }
        assert!(
            restrictions
                .violation("POST", "https://api.example/v1/me")
                .is_some()
        );
    }

    fn tokens(access: &str, expires_in: Option<u64>) -> TokenSet {
        TokenSet {
            access_token: Secret::new(access),
            refresh_token: Some(Secret::new(format!("{access}-refresh"))),
            expires_in,
            scopes: None,
        }
    }

    fn new_grant(label: Option<&str>, access: &str) -> NewGrant {
        NewGrant {
            user: "alice".into(),
            provider_id: "demo".into(),
            label: label.map(str::to_owned),
            account_identifier: Some("alice".into()),
            requested_scopes: vec!["messages.read".into()],
            tokens: tokens(access, Some(3600)),
            repair: None,
            restrictions: None,
            expires_at: None,
            delegable: None,
            delegate_to: None,
            scope_constraint: None,
        }
    }

    #[test]
    fn same_account_and_label_reauthorizes() {
        let store = Store::default();
        let (first, operation) = store.upsert(new_grant(None, "a"));
        assert_eq!(operation, Operation::Creation);
        let (second, operation) = store.upsert(new_grant(None, "b"));
        assert_eq!(operation, Operation::Reauth);
        assert_eq!(first.id, second.id);
        assert_ne!(first.token_generation, second.token_generation);
        assert_eq!(second.access_token.expose(), "b");
        assert_eq!(store.all().len(), 1);
    }

    #[test]
    fn other_label_creates_second_grant() {
        let store = Store::default();
        store.upsert(new_grant(Some("work"), "a"));
        store.upsert(new_grant(Some("personal"), "b"));
        assert_eq!(store.for_user("alice", "demo").len(), 2);
        assert!(store.for_user("bob", "demo").is_empty());
    }

    #[test]
    fn refresh_keeps_refresh_token_when_none_returned() {
        let store = Store::default();
        let (grant, _) = store.upsert(new_grant(None, "a"));
        let mut refreshed = tokens("c", Some(60));
        refreshed.refresh_token = None;
        let updated = store.replace_tokens(grant.id, refreshed).unwrap();
        assert_eq!(updated.access_token.expose(), "c");
        assert_eq!(updated.refresh_token.unwrap().expose(), "a-refresh");
        assert_ne!(updated.token_generation, grant.token_generation);
    }

    #[test]
    fn delegation_needs_delegable_grant() {
        let store = Store::default();
        let agent = Uuid::new_v4();
        let mut refused = new_grant(Some("locked"), "a");
        refused.delegable = Some(false);
        refused.delegate_to = Some(agent);
        let (grant, _) = store.upsert(refused);
        assert!(!grant.delegable);
        assert!(grant.delegated_to.is_empty());

        let mut allowed = new_grant(None, "b");
        allowed.delegate_to = Some(agent);
        let (grant, _) = store.upsert(allowed);
        assert!(grant.delegable);
        assert_eq!(grant.delegated_to, [agent]);
    }

    #[test]
    fn scope_constraint_limits_scopes() {
        let store = Store::default();
        let mut constrained = new_grant(None, "a");
        constrained.requested_scopes = vec!["messages.read".into(), "messages.write".into()];
        constrained.scope_constraint = Some(vec!["messages.read".into()]);
        let (grant, _) = store.upsert(constrained);
        assert_eq!(grant.scopes, ["messages.read"]);
    }

    #[test]
    fn policy_expiry_expires_grant() {
        let store = Store::default();
        let mut expiring = new_grant(None, "a");
        expiring.expires_at = Some(unix_now() + 60);
        let (grant, _) = store.upsert(expiring);
        assert!(!grant.is_expired(unix_now()));
        assert!(grant.is_expired(unix_now() + 60));
    }

    #[test]
    fn expired_token_needs_refresh() {
        let store = Store::default();
        let (grant, _) = store.upsert(new_grant(None, "a"));
        assert!(!grant.needs_refresh(unix_now()));
        let expired = store.expire_token(grant.id).unwrap();
        assert!(expired.needs_refresh(unix_now()));
    }
}
