//! Wall-clock time in whole Unix seconds, the unit of every expiry the server stores.

use std::time::{SystemTime, UNIX_EPOCH};

use super::store::UnixSeconds;

/// Returns the current Unix time in whole seconds, or 0 for a clock set before 1970.
pub(crate) fn unix_now() -> UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
