//! Failures a test can switch on, to see how a client copes with responses the real backend
//! sends only under load.

use std::sync::Mutex;

/// When `POST /sdk/token` returns HTTP 409 `token_refresh_in_progress`, as the backend does
/// while another request is refreshing the same grant's provider token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRefreshConflicts {
    /// Never: requests get their normal response.
    #[default]
    Off,
    /// The next this many requests that resolve a grant get 409, and later ones their normal
    /// response.
    Next(u32),
    /// Every request that resolves a grant gets 409.
    Always,
}

/// The switched-on failures and how often each was served.
#[derive(Debug, Default)]
pub(super) struct Faults {
    refresh: Mutex<RefreshState>,
}

#[derive(Debug, Default)]
struct RefreshState {
    mode: TokenRefreshConflicts,
    served: u64,
}

impl Faults {
    /// Sets when `/sdk/token` returns 409, and resets the count of 409s served.
    pub(super) fn set_refresh_conflicts(&self, mode: TokenRefreshConflicts) {
        *self.refresh_state() = RefreshState { mode, served: 0 };
    }

    /// Returns whether this token request gets 409, and counts it when it does.
    pub(super) fn take_refresh_conflict(&self) -> bool {
        let mut state = self.refresh_state();
        let conflict = match state.mode {
            TokenRefreshConflicts::Off => false,
            TokenRefreshConflicts::Always => true,
            TokenRefreshConflicts::Next(0) => {
                state.mode = TokenRefreshConflicts::Off;
                false
            }
            TokenRefreshConflicts::Next(left) => {
                state.mode = match left - 1 {
                    0 => TokenRefreshConflicts::Off,
                    left => TokenRefreshConflicts::Next(left),
                };
                true
            }
        };
        if conflict {
            state.served += 1;
        }
        conflict
    }

    /// Returns how many 409s were served since the mode was last set.
    pub(super) fn refresh_conflicts_served(&self) -> u64 {
        self.refresh_state().served
    }

    fn refresh_state(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        self.refresh.lock().expect("fault switch lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_conflicts_then_clears() {
        let faults = Faults::default();
        faults.set_refresh_conflicts(TokenRefreshConflicts::Next(2));
        assert!(faults.take_refresh_conflict());
        assert!(faults.take_refresh_conflict());
        assert!(!faults.take_refresh_conflict());
        assert_eq!(faults.refresh_conflicts_served(), 2);
    }

    #[test]
    fn always_conflicts_until_switched_off() {
        let faults = Faults::default();
        assert!(!faults.take_refresh_conflict());
        faults.set_refresh_conflicts(TokenRefreshConflicts::Always);
        for _ in 0..5 {
            assert!(faults.take_refresh_conflict());
        }
        assert_eq!(faults.refresh_conflicts_served(), 5);
        faults.set_refresh_conflicts(TokenRefreshConflicts::Off);
        assert!(!faults.take_refresh_conflict());
        assert_eq!(faults.refresh_conflicts_served(), 0);
    }
}
