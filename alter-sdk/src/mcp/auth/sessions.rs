//! The MCP sessions the guard saw opened, each bound to the authorization that opened it.
//!
//! The guard checks a token on every request, so a session id never replaces a token.
//! Binding adds that a token from another authorization cannot use the session at all: the
//! guard responds 404, as for an unknown session, so someone who learns a session id can neither
//! send messages into it nor delete it. A refreshed token keeps its authorization's family, so
//! it keeps the session.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::store::FamilyId;

/// The number of sessions remembered by default. At the limit the older half is forgotten, and
/// a forgotten session is accepted from any valid token, as without binding.
const MAX_SESSIONS: usize = 100_000;
/// The number of sessions remembered for one token family. Past it, the family's oldest session
/// is forgotten, so that one authorization cannot push other users' sessions out by opening
/// sessions until [`MAX_SESSIONS`] is reached. A client opens one session per connection.
const MAX_SESSIONS_PER_FAMILY: usize = 64;
/// The maximum length of a remembered session id, in bytes. rmcp's session ids are UUIDs.
const MAX_SESSION_ID_BYTES: usize = 256;

/// Session ids and the token family that opened each, in process memory.
///
/// NOTE: rmcp's `StreamableHttpServerConfig::session_store` restores a session in a process
/// that did not open it, on another replica or after a restart. The guard there has no binding
/// for the session, so it accepts the session from any valid token, as without binding.
#[derive(Debug)]
pub(crate) struct SessionBindings {
    max_sessions: usize,
    max_sessions_per_family: usize,
    inner: Mutex<Bindings>,
}

#[derive(Debug, Default)]
struct Bindings {
    /// Each session's family, and the order in which it was bound.
    sessions: HashMap<String, (FamilyId, u64)>,
    /// Each family's sessions, oldest first.
    families: HashMap<FamilyId, VecDeque<String>>,
    next_order: u64,
}

impl Default for SessionBindings {
    fn default() -> Self {
        Self::with_limits(MAX_SESSIONS, MAX_SESSIONS_PER_FAMILY)
    }
}

impl SessionBindings {
    fn with_limits(max_sessions: usize, max_sessions_per_family: usize) -> Self {
        Self {
            max_sessions,
            max_sessions_per_family,
            inner: Mutex::default(),
        }
    }

    /// Records that a token of `family` opened `session`.
    pub(crate) fn bind(&self, session: &str, family: FamilyId) {
        if session.len() > MAX_SESSION_ID_BYTES {
            return;
        }
        let mut bindings = self.lock();
        bindings.remove(session);
        let family_size = bindings.families.get(&family).map_or(0, VecDeque::len);
        if family_size >= self.max_sessions_per_family {
            bindings.forget_oldest_of(&family);
        }
        if bindings.sessions.len() >= self.max_sessions {
            bindings.forget_older_half();
        }
        let order = bindings.next_order;
        bindings.next_order += 1;
        bindings
            .sessions
            .insert(session.to_owned(), (family.clone(), order));
        bindings
            .families
            .entry(family)
            .or_default()
            .push_back(session.to_owned());
    }

    /// Returns whether a token of `family` may use `session`: its family opened the session,
    /// or the session is not bound.
    pub(crate) fn allows(&self, session: &str, family: &FamilyId) -> bool {
        self.lock()
            .sessions
            .get(session)
            .is_none_or(|(owner, _)| owner == family)
    }

    /// Forgets `session`, once it has been deleted.
    pub(crate) fn forget(&self, session: &str) {
        self.lock().remove(session);
    }

    fn lock(&self) -> MutexGuard<'_, Bindings> {
        // The maps stay consistent even if a holder panicked, because no update can panic
        // between changing one map and the other.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Bindings {
    /// Removes `session` from both maps, if it is bound.
    fn remove(&mut self, session: &str) {
        let Some((family, _)) = self.sessions.remove(session) else {
            return;
        };
        if let Some(family_sessions) = self.families.get_mut(&family) {
            family_sessions.retain(|bound| bound != session);
            if family_sessions.is_empty() {
                self.families.remove(&family);
            }
        }
    }

    fn forget_oldest_of(&mut self, family: &FamilyId) {
        let oldest = self
            .families
            .get(family)
            .and_then(|family_sessions| family_sessions.front().cloned());
        if let Some(oldest) = oldest {
            self.remove(&oldest);
        }
    }

    fn forget_older_half(&mut self) {
        let mut orders: Vec<u64> = self.sessions.values().map(|(_, order)| *order).collect();
        let middle = orders.len() / 2;
        let (_, median, _) = orders.select_nth_unstable(middle);
        let median = *median;
        self.sessions.retain(|_, (_, order)| *order >= median);
        let sessions = &self.sessions;
        self.families.retain(|_, family_sessions| {
            family_sessions.retain(|session| sessions.contains_key(session));
            !family_sessions.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(name: &str) -> FamilyId {
        FamilyId(name.to_owned())
    }

    #[test]
    fn opener_allowed_others_rejected() {
        let bindings = SessionBindings::default();
        bindings.bind("session-1", family("alice"));
        assert!(bindings.allows("session-1", &family("alice")));
        assert!(!bindings.allows("session-1", &family("bob")));
    }

    #[test]
    fn unbound_session_allowed() {
        let bindings = SessionBindings::default();
        assert!(bindings.allows("session-1", &family("bob")));
    }

    #[test]
    fn forgotten_session_allowed() {
        let bindings = SessionBindings::default();
        bindings.bind("session-1", family("alice"));
        bindings.forget("session-1");
        assert!(bindings.allows("session-1", &family("bob")));
    }

    #[test]
    fn long_session_id_not_bound() {
        let bindings = SessionBindings::default();
        let long = "s".repeat(MAX_SESSION_ID_BYTES + 1);
        bindings.bind(&long, family("alice"));
        assert!(bindings.allows(&long, &family("bob")));
    }

    #[test]
    fn one_family_cannot_unbind_others() {
        let bindings = SessionBindings::with_limits(4, 2);
        bindings.bind("alice-session", family("alice"));
        for index in 0..10 {
            bindings.bind(&format!("mallory-{index}"), family("mallory"));
        }
        assert!(!bindings.allows("alice-session", &family("mallory")));
    }

    #[test]
    fn family_limit_forgets_its_oldest() {
        let bindings = SessionBindings::with_limits(100, 2);
        for index in 0..3 {
            bindings.bind(&format!("session-{index}"), family("alice"));
        }
        assert!(bindings.allows("session-0", &family("bob")));
        assert!(!bindings.allows("session-1", &family("bob")));
        assert!(!bindings.allows("session-2", &family("bob")));
        bindings.forget("session-2");
        bindings.bind("session-3", family("alice"));
        assert!(!bindings.allows("session-1", &family("bob")));
        assert!(!bindings.allows("session-3", &family("bob")));
    }

    #[test]
    fn limit_forgets_older_half() {
        let bindings = SessionBindings::with_limits(4, 64);
        for index in 0..4 {
            bindings.bind(&format!("session-{index}"), family("alice"));
        }
        bindings.bind("session-4", family("alice"));
        let remembered = bindings.lock().sessions.len();
        assert_eq!(remembered, 3);
        let listed: usize = bindings.lock().families.values().map(VecDeque::len).sum();
        assert_eq!(listed, 3);
        assert!(bindings.allows("session-0", &family("bob")));
        assert!(bindings.allows("session-1", &family("bob")));
        assert!(!bindings.allows("session-2", &family("bob")));
        assert!(!bindings.allows("session-4", &family("bob")));
    }
}
