//! Wall-clock time in the units the protocol uses.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Returns the current Unix time in whole seconds.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Last second of the year 9999, the latest time RFC 3339 can write.
const LATEST_RFC3339_SECS: u64 = 253_402_300_799;

/// Formats Unix seconds as an RFC 3339 UTC timestamp, e.g. `2023-11-14T22:13:20Z`. Times after
/// the year 9999 are written as its last second.
pub(super) fn rfc3339(unix_secs: u64) -> String {
    let secs = i64::try_from(unix_secs.min(LATEST_RFC3339_SECS)).expect("clamped to fit");
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|moment| moment.format(&Rfc3339).ok())
        .expect("times up to the year 9999 format as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn rfc3339_clamps_far_future() {
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
