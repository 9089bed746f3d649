//! Sign-in sessions: the app creates one, the user opens its `auth_url` and signs in as a
//! DevVault user, and the app polls until the session hands over that user's token.
//!
//! Like connect sessions, a session is addressed two ways: the app polls with the secret
//! `session_token`, and the browser opens an unrelated page id inside `auth_url`.
//!
//! With auto-approve, a session is created already completed for one configured user, so a
//! headless client (a test, or an MCP client behind an authorization server) needs no browser.

pub(super) mod api;
pub(super) mod pages;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use super::clock::unix_now;
use super::secret::{Secret, random_token};
use super::wire;

/// The state of a sign-in session.
#[derive(Clone, Debug)]
pub(super) enum Outcome {
    Pending,
    /// The user signed in; the token is handed to every poll until the session is forgotten.
    Completed {
        user: String,
        user_token: Secret,
    },
    Failed {
        code: &'static str,
        message: String,
    },
}

/// One sign-in session.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub(super) page_id: String,
    /// Unix seconds.
    pub(super) expires_at: u64,
    pub(super) outcome: Outcome,
}

impl Session {
    /// Returns whether the session expired before the user signed in or cancelled.
    pub(super) fn is_expired(&self, now: u64) -> bool {
        matches!(self.outcome, Outcome::Pending) && now >= self.expires_at
    }
}

/// All sign-in sessions, and the signal that wakes long polls when one of them changes.
#[derive(Debug)]
pub(super) struct SignInSessions {
    state: Mutex<SessionState>,
    changed: Notify,
    lifetime: Duration,
    /// The user every new session signs in at once, when sign-in is auto-approved.
    auto_sign_in: Option<String>,
}

#[derive(Debug, Default)]
struct SessionState {
    /// Keyed by session token.
    sessions: HashMap<String, Session>,
    /// Page id → session token.
    pages: HashMap<String, String>,
}

impl SignInSessions {
    /// Creates an empty set whose sessions live for `lifetime`. With `auto_sign_in`, every new
    /// session is completed at creation for that user.
    pub(super) fn new(lifetime: Duration, auto_sign_in: Option<String>) -> Self {
        Self {
            state: Mutex::default(),
            changed: Notify::new(),
            lifetime,
            auto_sign_in,
        }
    }

    /// Returns the lifetime of new sessions.
    pub(super) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Returns the user every new session signs in at once, when sign-in is auto-approved.
    pub(super) fn auto_sign_in(&self) -> Option<&str> {
        self.auto_sign_in.as_deref()
    }

    /// Creates a session in the state `outcome` and returns its token and the session.
    pub(super) fn create(&self, outcome: Outcome) -> (String, Session) {
        let now = unix_now();
        let token = format!("as_{}", random_token());
        let session = Session {
            page_id: random_token(),
            expires_at: now.saturating_add(self.lifetime.as_secs()),
            outcome,
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

    /// Ends a pending session with `outcome`; returns false when it already ended, expired or
    /// is unknown.
    pub(super) fn finish(&self, token: &str, outcome: Outcome) -> bool {
        let finished = {
            let mut state = self.lock();
            match state.sessions.get_mut(token) {
                Some(session) if !session.is_expired(unix_now()) => {
                    if matches!(session.outcome, Outcome::Pending) {
                        session.outcome = outcome;
                        true
                    } else {
                        false
                    }
                }
                _ => false,
            }
        };
        if finished {
            self.changed.notify_waiters();
        }
        finished
    }

    /// Returns the session with `token` once it is no longer pending, or as it is when `wait`
    /// elapses first. Returns `None` for an unknown token.
    pub(super) async fn wait_for_change(&self, token: &str, wait: Duration) -> Option<Session> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registering before reading the state means a change made in between still wakes
            // this poll.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let session = self.by_token(token)?;
            let now = unix_now();
            if !matches!(session.outcome, Outcome::Pending) || session.is_expired(now) {
                return Some(session);
            }
            let until_expiry = Duration::from_secs(session.expires_at.saturating_sub(now));
            let wake_at = deadline.min(tokio::time::Instant::now() + until_expiry);
            if tokio::time::Instant::now() >= deadline {
                return Some(session);
            }
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep_until(wake_at) => {
                    if wake_at >= deadline {
                        return self.by_token(token);
                    }
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().expect("sign-in session lock poisoned")
    }
}

impl SessionState {
    /// Forgets sessions that ended or expired more than the retention period ago.
    fn sweep(&mut self, now: u64) {
        let retention = wire::CONNECT_SESSION_RETENTION.as_secs();
        self.sessions
            .retain(|_, session| session.expires_at.saturating_add(retention) > now);
        let sessions = &self.sessions;
        self.pages.retain(|_, token| sessions.contains_key(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> SignInSessions {
        SignInSessions::new(Duration::from_secs(600), None)
    }

    #[test]
    fn session_is_found_by_token_and_page() {
        let sessions = sessions();
        let (token, session) = sessions.create(Outcome::Pending);
        assert!(token.starts_with("as_"));
        assert_eq!(sessions.by_token(&token).unwrap().page_id, session.page_id);
        assert_eq!(sessions.by_page(&session.page_id).unwrap().0, token);
        assert!(sessions.by_page(&token).is_none());
    }

    #[test]
    fn session_finishes_once() {
        let sessions = sessions();
        let (token, _) = sessions.create(Outcome::Pending);
        let completed = Outcome::Completed {
            user: "alice".into(),
            user_token: Secret::new("t"),
        };
        assert!(sessions.finish(&token, completed));
        let failed = Outcome::Failed {
            code: "access_denied",
            message: "late".into(),
        };
        assert!(!sessions.finish(&token, failed));
        assert!(matches!(
            sessions.by_token(&token).unwrap().outcome,
            Outcome::Completed { .. }
        ));
        assert!(!sessions.finish("unknown", Outcome::Pending));
    }

    #[tokio::test]
    async fn long_poll_wakes_on_change() {
        let sessions = std::sync::Arc::new(sessions());
        let (token, _) = sessions.create(Outcome::Pending);
        let waiter = {
            let sessions = std::sync::Arc::clone(&sessions);
            let token = token.clone();
            tokio::spawn(async move {
                sessions
                    .wait_for_change(&token, Duration::from_secs(3600))
                    .await
            })
        };
        tokio::task::yield_now().await;
        sessions.finish(
            &token,
            Outcome::Completed {
                user: "alice".into(),
                user_token: Secret::new("t"),
            },
        );
        let session = waiter.await.unwrap().unwrap();
        assert!(matches!(session.outcome, Outcome::Completed { .. }));
    }

    #[tokio::test]
    async fn long_poll_returns_pending_after_wait() {
        let sessions = sessions();
        let (token, _) = sessions.create(Outcome::Pending);
        let session = sessions
            .wait_for_change(&token, Duration::from_millis(20))
            .await
            .unwrap();
        assert!(matches!(session.outcome, Outcome::Pending));
        assert!(
            sessions
                .wait_for_change("unknown", Duration::ZERO)
                .await
                .is_none()
        );
    }
}
