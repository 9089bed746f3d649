//! Rate-limit response headers: the backend's current limit, what is left of it, and when it
//! resets.
//!
//! Two header styles are read. The common `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (Unix seconds) win when any of them is present. Otherwise the IETF
//! draft's `RateLimit-Policy` (`q` quota, `w` window) and `RateLimit` (`r` remaining, `t`
//! seconds until reset) are read, e.g. `RateLimit-Policy: "default";q=100;w=60` and
//! `RateLimit: "default";r=42;t=17`. The snapshot is informational: nothing waits on it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

const LIMIT_HEADER: &str = "x-ratelimit-limit";
const REMAINING_HEADER: &str = "x-ratelimit-remaining";
const RESET_HEADER: &str = "x-ratelimit-reset";
const POLICY_HEADER: &str = "ratelimit-policy";
const STATE_HEADER: &str = "ratelimit";

/// Maximum header value length read, in bytes. Longer values are ignored.
const MAX_HEADER_LEN: usize = 4096;
/// Maximum list members read from one draft header.
const MAX_MEMBERS: usize = 32;

/// The rate limit a backend response reported.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitSnapshot {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the current window ends.
    pub reset_at: Option<SystemTime>,
    /// The window length, when the draft `RateLimit-Policy` header gave one (`w`).
    pub window: Option<Duration>,
    /// The name of the draft policy the values belong to, e.g. `default`.
    pub policy: Option<String>,
    /// When the response carrying these values arrived.
    pub observed_at: SystemTime,
}

/// Reads the rate-limit headers of a response received at `now`; returns `None` when it has
/// none this parser understands.
pub fn parse_rate_limit(headers: &HeaderMap, now: SystemTime) -> Option<RateLimitSnapshot> {
    let limit = header_number(headers, LIMIT_HEADER);
    let remaining = header_number(headers, REMAINING_HEADER);
    let reset = header_number(headers, RESET_HEADER);
    if limit.is_some() || remaining.is_some() || reset.is_some() {
        return Some(RateLimitSnapshot {
            limit,
            remaining,
            reset_at: reset.and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs))),
            window: None,
            policy: None,
            observed_at: now,
        });
    }

    let state = header_text(headers, STATE_HEADER).and_then(parse_members);
    let policies = header_text(headers, POLICY_HEADER).and_then(parse_members);
    let state = state.as_ref().and_then(|members| members.first());
    // The state names the policy it reports on; without a state, the first policy is used.
    let policy = match (state, &policies) {
        (Some(state), Some(policies)) => policies
            .iter()
            .find(|policy| policy.name == state.name)
            .or_else(|| policies.first()),
        (None, Some(policies)) => policies.first(),
        (_, None) => None,
    };
    if state.is_none() && policy.is_none() {
        return None;
    }
    let remaining = state.and_then(|state| state.param("r"));
    let reset_at = state
        .and_then(|state| state.param("t"))
        .and_then(|secs| now.checked_add(Duration::from_secs(secs)));
    Some(RateLimitSnapshot {
        limit: policy.and_then(|policy| policy.param("q")),
        remaining,
        reset_at,
        window: policy
            .and_then(|policy| policy.param("w"))
            .map(Duration::from_secs),
        policy: state.or(policy).map(|member| member.name.clone()),
        observed_at: now,
    })
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let text = headers.get(name)?.to_str().ok()?;
    (text.len() <= MAX_HEADER_LEN).then_some(text)
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    parse_number(header_text(headers, name)?.trim())
}

/// Parses a non-negative decimal integer without sign, fraction or exponent.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// One member of a draft header list: a name and its integer parameters.
#[derive(Debug, PartialEq, Eq)]
struct Member {
    name: String,
    params: Vec<(String, u64)>,
}

impl Member {
    fn param(&self, key: &str) -> Option<u64> {
        self.params
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| *value)
    }
}

/// Parses a structured-field list such as `"burst";q=10;w=1, "daily";q=1000;w=86400`.
///
/// Members are a quoted string or a token, each followed by `;key=value` parameters. Only
/// parameters with integer values are kept. A member that does not parse is skipped, so one
/// malformed policy does not hide the others.
fn parse_members(text: &str) -> Option<Vec<Member>> {
    let members: Vec<Member> = split_outside_quotes(text, ',')
        .into_iter()
        .take(MAX_MEMBERS)
        .filter_map(parse_member)
        .collect();
    (!members.is_empty()).then_some(members)
}

fn parse_member(text: &str) -> Option<Member> {
    let mut parts = split_outside_quotes(text, ';').into_iter();
    let name = parse_name(parts.next()?.trim())?;
    let params = parts
        .filter_map(|param| {
            let (key, value) = param.split_once('=')?;
            Some((key.trim().to_ascii_lowercase(), parse_number(value.trim())?))
        })
        .collect();
    Some(Member { name, params })
}

/// Reads a member name: a quoted string with `\"` and `\\` escapes, or a bare token.
fn parse_name(text: &str) -> Option<String> {
    let Some(quoted) = text.strip_prefix('"') else {
        let is_token = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'='));
        return is_token.then(|| text.to_owned());
    };
    let mut name = String::new();
    let mut chars = quoted.chars();
    loop {
        match chars.next()? {
            '\\' => name.push(chars.next()?),
            '"' => return chars.as_str().trim().is_empty().then_some(name),
            other => name.push(other),
        }
    }
}

/// Splits `text` at every `separator` that is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, ch) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && ch == '\\' {
            escaped = true;
        } else if ch == '"' {
            quoted = !quoted;
        } else if ch == separator && !quoted {
            pieces.push(&text[start..index]);
            start = index + ch.len_utf8();
        }
    }
    pieces.push(&text[start..]);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn reads_x_ratelimit_headers() {
        let snapshot = parse_rate_limit(
            &headers(&[
                ("X-RateLimit-Limit", "600"),
                ("X-RateLimit-Remaining", " 599 "),
                ("X-RateLimit-Reset", "1700000060"),
            ]),
            at(1_700_000_000),
        )
        .unwrap();
        assert_eq!(snapshot.limit, Some(600));
        assert_eq!(snapshot.remaining, Some(599));
        assert_eq!(snapshot.reset_at, Some(at(1_700_000_060)));
        assert_eq!(snapshot.window, None);
        assert_eq!(snapshot.observed_at, at(1_700_000_000));
    }

    #[test]
    fn x_ratelimit_wins_over_draft() {
        let snapshot = parse_rate_limit(
            &headers(&[
                ("X-RateLimit-Remaining", "5"),
                ("RateLimit", r#""default";r=9;t=3"#),
            ]),
            at(0),
        )
        .unwrap();
        assert_eq!(snapshot.remaining, Some(5));
        assert_eq!(snapshot.policy, None);
    }

    #[test]
    fn reads_draft_headers() {
        let snapshot = parse_rate_limit(
            &headers(&[
                (
                    "RateLimit-Policy",
                    r#""burst";q=10;w=1, "default";q=100;w=60"#,
                ),
                ("RateLimit", r#""default";r=42;t=17"#),
            ]),
            at(1_000),
        )
        .unwrap();
        assert_eq!(snapshot.limit, Some(100));
        assert_eq!(snapshot.remaining, Some(42));
        assert_eq!(snapshot.reset_at, Some(at(1_017)));
        assert_eq!(snapshot.window, Some(Duration::from_secs(60)));
        assert_eq!(snapshot.policy.as_deref(), Some("default"));
    }

    #[test]
    fn draft_policy_alone_or_unmatched() {
        let policy_only =
            parse_rate_limit(&headers(&[("RateLimit-Policy", "api;q=5;w=10")]), at(0)).unwrap();
        assert_eq!(policy_only.limit, Some(5));
        assert_eq!(policy_only.remaining, None);
        assert_eq!(policy_only.policy.as_deref(), Some("api"));

        let unmatched = parse_rate_limit(
            &headers(&[
                ("RateLimit-Policy", r#""a";q=7"#),
                ("RateLimit", r#""b";r=1"#),
            ]),
            at(0),
        )
        .unwrap();
        assert_eq!(unmatched.limit, Some(7));
        assert_eq!(unmatched.remaining, Some(1));
        assert_eq!(unmatched.policy.as_deref(), Some("b"));
    }

    #[test]
    fn ignores_malformed_values() {
        for value in ["-1", "1.5", "1e3", "", "0x10", "99999999999999999999999"] {
            let parsed = parse_rate_limit(&headers(&[("X-RateLimit-Limit", value)]), at(0));
            assert_eq!(parsed, None, "{value:?}");
        }
        assert_eq!(parse_rate_limit(&HeaderMap::new(), at(0)), None);
        let garbage = parse_rate_limit(&headers(&[("RateLimit", r#"";;,"#)]), at(0));
        assert_eq!(garbage, None);
    }

    #[test]
    fn quoted_names_may_contain_separators() {
        let members = parse_members(r#""a,b;c";q=1, plain;q=2;x=y"#).unwrap();
        assert_eq!(members[0].name, "a,b;c");
        assert_eq!(members[0].param("q"), Some(1));
        assert_eq!(members[1].name, "plain");
        assert_eq!(members[1].params, [("q".to_owned(), 2)]);
        assert_eq!(
            parse_members(r#""esc\"aped";q=3"#).unwrap()[0].name,
            "esc\"aped"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics(
            limit in "\\PC{0,24}",
            state in "[\\x20-\\x7e]{0,64}",
            policy in "[\\x20-\\x7e]{0,64}",
            now in any::<u64>(),
        ) {
            let mut map = HeaderMap::new();
            for (name, value) in [
                ("x-ratelimit-reset", limit.as_str()),
                ("ratelimit", state.as_str()),
                ("ratelimit-policy", policy.as_str()),
            ] {
                if let Ok(value) = value.parse() {
                    map.insert(name, value);
                }
            }
            let now = UNIX_EPOCH.checked_add(Duration::from_secs(now)).unwrap_or(UNIX_EPOCH);
            let _ = parse_rate_limit(&map, now);
            let _ = parse_members(&state);
        }

        #[test]
        fn x_ratelimit_numbers_round_trip(limit in any::<u64>(), remaining in any::<u64>()) {
            let snapshot = parse_rate_limit(
                &headers(&[
                    ("x-ratelimit-limit", &limit.to_string()),
                    ("x-ratelimit-remaining", &remaining.to_string()),
                ]),
                UNIX_EPOCH,
            )
            .unwrap();
            prop_assert_eq!(snapshot.limit, Some(limit));
            prop_assert_eq!(snapshot.remaining, Some(remaining));
        }
    }
}
