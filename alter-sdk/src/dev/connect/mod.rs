//! Connect sessions: the app creates one for a user, the user opens its `connect_url` in a
//! browser and authorizes a provider, and the app polls until the session reports the new grant.
//!
//! A session is addressed two ways. The app polls with the `session_token`, and the browser
//! opens an unrelated page id inside `connect_url`, so neither can be derived from the other.

pub(super) mod api;
mod options;
pub(super) mod pages;

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use uuid::Uuid;

use super::clock::unix_now;
use super::provider::ProviderConfig;
use super::secret::{Secret, random_token};
use super::store::Restrictions;
use super::wire;
pub(super) use options::GrantPolicy;

/// Redirect URI registered with every provider.
pub(super) const CALLBACK_PATH: &str = "/connect/callback";

/// The app's request that created the session.
#[derive(Clone, Debug)]
pub(super) struct SessionRequest {
    pub(super) user: String,
    /// The providers the user may choose from, in the order shown.
    pub(super) providers: Vec<String>,
    pub(super) return_url: Option<String>,
    /// Provider id → scopes requested on top of the provider's default scopes.
    pub(super) required_scopes: HashMap<String, Vec<String>>,
    pub(super) label: Option<String>,
    pub(super) restrictions: Option<Restrictions>,
    pub(super) repair_grant_id: Option<Uuid>,
    /// Makes the provider ask which account to connect instead of suggesting the user's.
    pub(super) switch_account: bool,
    pub(super) grant_policy: Option<GrantPolicy>,
    /// Whether the grant may be delegated to managed agents; `None` leaves the default.
    pub(super) delegable: Option<bool>,
    /// The managed agent to delegate the grant to.
    pub(super) agent: Option<Uuid>,
    /// The only scopes the grant may hold.
    pub(super) scope_constraint: Option<Vec<String>>,
}

/// Returns the scopes a session requests from `provider`: the provider's default scopes followed by
/// the session's extra ones, without duplicates, and only those in its scope constraint.
pub(super) fn requested_scopes(provider: &ProviderConfig, request: &SessionRequest) -> Vec<String> {
    let mut scopes = provider.scopes.clone();
    let extra = request.required_scopes.get(&provider.id);
    for scope in extra.into_iter().flatten() {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    if let Some(constraint) = &request.scope_constraint {
        scopes.retain(|scope| constraint.contains(scope));
    }
    scopes
}

/// One connect session.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub(super) request: SessionRequest,
    pub(super) page_id: String,
    /// Unix seconds.
    pub(super) expires_at: u64,
    pub(super) outcome: Outcome,
    /// Providers the user declined while others remained to choose from, in order.
    pub(super) declined: Vec<Declined>,
}

/// A provider the user declined at its consent screen.
#[derive(Clone, Debug)]
pub(super) struct Declined {
    pub(super) provider_id: String,
    pub(super) error_code: String,
    /// Unix seconds.
    pub(super) declined_at: u64,
}

impl Session {
    /// Returns whether the session expired before it completed or failed.
    pub(super) fn is_expired(&self, now: u64) -> bool {
        matches!(self.outcome, Outcome::Pending) && now >= self.expires_at
    }
}

/// The state of a session.
#[derive(Clone, Debug)]
pub(super) enum Outcome {
    Pending,
    /// The grants the session produced, in the shape the poll endpoint returns them.
    Completed(Vec<Value>),
    Failed {
        code: &'static str,
        message: String,
    },
}

/// An authorization request sent to a provider whose callback has not arrived yet.
#[derive(Debug)]
pub(super) struct PendingAuthorization {
    pub(super) session_token: String,
    pub(super) provider_id: String,
    pub(super) code_verifier: Secret,
    expires_at: u64,
}

/// All connect sessions and their pending authorizations.
#[derive(Debug, Default)]
pub(super) struct ConnectSessions {
    state: Mutex<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    /// Keyed by session token.
    sessions: HashMap<String, Session>,
    /// Page id → session token.
    pages: HashMap<String, String>,
    /// OAuth `state` parameter → the authorization it belongs to.
    authorizations: HashMap<String, PendingAuthorization>,
}

impl ConnectSessions {
    /// Creates a session and returns its token and page id.
    pub(super) fn create(&self, request: SessionRequest) -> (String, Session) {
        let now = unix_now();
        let token = random_token();
        let session = Session {
            request,
            page_id: random_token(),
            expires_at: now + wire::CONNECT_SESSION_LIFETIME.as_secs(),
            outcome: Outcome::Pending,
            declined: Vec::new(),
        };
        let mut state = self.lock();
        state.sweep(now);
        state.pages.insert(session.page_id.clone(), token.clone());
        state.sessions.insert(token.clone(), session.clone());
        (token, session)
    }

    /// Returns the session with `token`.
    pub(super) fn by_token(&self, token: &str) -> Option<Session> {
        self.lock().sessions.get(token).cloned()
    }

    /// Returns the token and session of the page `page_id`.
    pub(super) fn by_page(&self, page_id: &str) -> Option<(String, Session)> {
        let state = self.lock();
        let token = state.pages.get(page_id)?;
        let session = state.sessions.get(token)?;
        Some((token.clone(), session.clone()))
    }

    /// Records an authorization request for the session and returns its `state` parameter and
    /// PKCE verifier.
    pub(super) fn begin_authorization(
        &self,
        session_token: &str,
        provider_id: &str,
    ) -> (String, Secret) {
        let oauth_state = random_token();
        let code_verifier = super::provider::new_code_verifier();
        let pending = PendingAuthorization {
            session_token: session_token.to_owned(),
            provider_id: provider_id.to_owned(),
            code_verifier: code_verifier.clone(),
            expires_at: unix_now() + wire::CONNECT_SESSION_LIFETIME.as_secs(),
        };
        self.lock()
            .authorizations
            .insert(oauth_state.clone(), pending);
        (oauth_state, code_verifier)
    }

    /// Removes and returns the authorization with `oauth_state`, with its session. A state
    /// is good for one callback.
    pub(super) fn take_authorization(
        &self,
        oauth_state: &str,
    ) -> Option<(PendingAuthorization, Session)> {
        let mut state = self.lock();
        let pending = state.authorizations.remove(oauth_state)?;
        if pending.expires_at <= unix_now() {
            return None;
        }
        let session = state.sessions.get(&pending.session_token)?.clone();
        Some((pending, session))
    }

    /// Adds a grant to the session's result.
    pub(super) fn complete(&self, session_token: &str, grant: Value) {
        let mut state = self.lock();
        if let Some(session) = state.sessions.get_mut(session_token) {
            match &mut session.outcome {
                Outcome::Completed(grants) => grants.push(grant),
                outcome => *outcome = Outcome::Completed(vec![grant]),
            }
        }
    }

    /// Records that the user declined `provider_id` and returns whether every provider the
    /// session offers is now declined.
    pub(super) fn decline(&self, session_token: &str, provider_id: &str, error_code: &str) -> bool {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(session_token) else {
            return true;
        };
        if !session
            .declined
            .iter()
            .any(|d| d.provider_id == provider_id)
        {
            session.declined.push(Declined {
                provider_id: provider_id.to_owned(),
                error_code: error_code.to_owned(),
                declined_at: unix_now(),
            });
        }
        session
            .request
            .providers
            .iter()
            .all(|offered| session.declined.iter().any(|d| &d.provider_id == offered))
    }

    /// Ends a pending session with an error; a session that already ended keeps its outcome.
    pub(super) fn fail(&self, session_token: &str, code: &'static str, message: String) {
        let mut state = self.lock();
        if let Some(session) = state.sessions.get_mut(session_token)
            && matches!(session.outcome, Outcome::Pending)
        {
            session.outcome = Outcome::Failed { code, message };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().expect("connect session lock poisoned")
    }
}

impl SessionState {
    /// Forgets sessions that ended or expired more than the retention period ago, and
    /// authorizations whose callback can no longer arrive in time.
    fn sweep(&mut self, now: u64) {
        let retention = wire::CONNECT_SESSION_RETENTION.as_secs();
        self.sessions
            .retain(|_, session| session.expires_at + retention > now);
        let sessions = &self.sessions;
        self.pages.retain(|_, token| sessions.contains_key(token));
        self.authorizations
            .retain(|_, pending| pending.expires_at > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SessionRequest {
        SessionRequest {
            user: "alice".into(),
            providers: vec!["demo".into()],
            return_url: None,
            required_scopes: HashMap::new(),
            label: None,
            restrictions: None,
            repair_grant_id: None,
            switch_account: false,
            grant_policy: None,
            delegable: None,
            agent: None,
            scope_constraint: None,
        }
    }

    #[test]
    fn session_is_found_by_token_and_page() {
        let sessions = ConnectSessions::default();
        let (token, session) = sessions.create(request());
        assert_ne!(token, session.page_id);
        assert_eq!(sessions.by_token(&token).unwrap().page_id, session.page_id);
        assert_eq!(sessions.by_page(&session.page_id).unwrap().0, token);
        assert!(sessions.by_page(&token).is_none());
    }

    #[test]
    fn authorization_state_is_single_use() {
        let sessions = ConnectSessions::default();
        let (token, _) = sessions.create(request());
        let (oauth_state, _) = sessions.begin_authorization(&token, "demo");
        let (pending, _) = sessions.take_authorization(&oauth_state).unwrap();
        assert_eq!(pending.provider_id, "demo");
        assert!(sessions.take_authorization(&oauth_state).is_none());
    }

    #[test]
    fn failure_does_not_override_completion() {
        let sessions = ConnectSessions::default();
        let (token, _) = sessions.create(request());
        sessions.complete(&token, Value::from("grant"));
        sessions.fail(&token, wire::code::CONNECT_DENIED, "late".into());
        assert!(matches!(
            sessions.by_token(&token).unwrap().outcome,
            Outcome::Completed(_)
        ));
    }
}
