//! The structured options of a connect session request: the grant policy, the requested
//! grant's restrictions, and the scope constraint, each checked before any request.

use std::time::Duration;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;

const MAX_SCOPE_ATOMS: usize = 100;
const MAX_SCOPE_ATOM_CHARS: usize = 512;

/// Limits on the lifetime of the grant a connect session creates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct GrantPolicy {
    expires_at: Option<String>,
    max_ttl: Option<Duration>,
    default_ttl: Option<Duration>,
}

impl GrantPolicy {
    /// Creates a policy that sets nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the grant expire at this RFC 3339 time, e.g. `2026-01-01T00:00:00Z`.
    pub fn expires_at(mut self, expires_at: impl Into<String>) -> Self {
        self.expires_at = Some(expires_at.into());
        self
    }

    /// Caps the lifetime the user may choose, in whole seconds.
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = Some(ttl);
        self
    }

    /// Sets the lifetime offered by default, in whole seconds.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Encodes the `grant_policy` object, without the members left unset.
    pub(crate) fn to_json(&self) -> Result<Value, Error> {
        let mut policy = Map::new();
        if let Some(expires_at) = &self.expires_at {
            if OffsetDateTime::parse(expires_at, &Rfc3339).is_err() {
                return Err(Error::invalid_request(format!(
                    "the grant policy's expires_at {expires_at:?} is not an RFC 3339 time such \
                     as 2026-01-01T00:00:00Z"
                )));
            }
            policy.insert("expires_at".into(), json!(expires_at));
        }
        for (key, ttl) in [
            ("max_ttl_seconds", self.max_ttl),
            ("default_ttl_seconds", self.default_ttl),
        ] {
            if let Some(ttl) = ttl {
                if ttl.as_secs() == 0 || ttl.subsec_nanos() != 0 {
                    return Err(Error::invalid_request(format!(
                        "the grant policy's {key} must be a whole number of seconds, at least 1, \
                         got {ttl:?}"
                    )));
                }
                policy.insert(key.into(), json!(ttl.as_secs()));
            }
        }
        if policy.is_empty() {
            return Err(Error::invalid_request(
                "the grant policy sets nothing; set expires_at, max_ttl or default_ttl",
            ));
        }
        Ok(Value::Object(policy))
    }
}

/// The allowed uses of the grant a connect session creates. A restricted grant can only be
/// used through proxy mode, where the backend enforces the restrictions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct GrantRestrictions {
    allowed_methods: Option<Vec<String>>,
    allowed_endpoints: Option<Vec<String>>,
}

impl GrantRestrictions {
    /// Creates restrictions that restrict nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows only these HTTP methods, e.g. `GET`.
    pub fn allowed_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Allows only these endpoints, as URL prefixes or patterns the backend understands.
    pub fn allowed_endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_endpoints = Some(endpoints.into_iter().map(Into::into).collect());
        self
    }

    /// Encodes the `restrictions` object, or `None` when it restricts nothing.
    pub(crate) fn to_json(&self) -> Result<Option<Value>, Error> {
        let mut restrictions = Map::new();
        for (key, values) in [
            ("allowed_methods", &self.allowed_methods),
            ("allowed_endpoints", &self.allowed_endpoints),
        ] {
            if let Some(values) = values {
                if values.is_empty() || values.iter().any(|value| value.trim().is_empty()) {
                    return Err(Error::invalid_request(format!(
                        "the grant restriction {key} must list at least one non-blank value"
                    )));
                }
                restrictions.insert(key.into(), json!(values));
            }
        }
        Ok((!restrictions.is_empty()).then_some(Value::Object(restrictions)))
    }
}

/// Checks a scope constraint: 1 to 100 atoms, each non-empty once trimmed, not `*`, at most 512
/// characters, and only printable ASCII other than space, `"` and `\`.
pub(crate) fn check_scope_constraint(atoms: &[String]) -> Result<(), Error> {
    if atoms.is_empty() || atoms.len() > MAX_SCOPE_ATOMS {
        return Err(Error::invalid_request(format!(
            "a scope constraint needs 1 to {MAX_SCOPE_ATOMS} entries, got {}",
            atoms.len()
        )));
    }
    for atom in atoms {
        let trimmed = atom.trim();
        let valid = !trimmed.is_empty()
            && trimmed != "*"
            && trimmed.chars().count() <= MAX_SCOPE_ATOM_CHARS
            && trimmed
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            return Err(Error::invalid_request(format!(
                "invalid scope constraint entry {:?}: use 1 to {MAX_SCOPE_ATOM_CHARS} printable \
                 ASCII characters without spaces, quotes or backslashes, and not `*`",
                atom.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grant_policy_omits_unset_members() {
        let policy = GrantPolicy::new().max_ttl(Duration::from_secs(3600));
        assert_eq!(policy.to_json().unwrap(), json!({"max_ttl_seconds": 3600}));
        let full = GrantPolicy::new()
            .expires_at("2026-01-01T00:00:00Z")
            .max_ttl(Duration::from_secs(7200))
            .default_ttl(Duration::from_secs(60));
        assert_eq!(
            serde_json::to_string(&full.to_json().unwrap()).unwrap(),
            r#"{"expires_at":"2026-01-01T00:00:00Z","max_ttl_seconds":7200,"default_ttl_seconds":60}"#
        );
    }

    #[test]
    fn grant_policy_rejects_bad_values() {
        for policy in [
            GrantPolicy::new(),
            GrantPolicy::new().expires_at("tomorrow"),
            GrantPolicy::new().max_ttl(Duration::ZERO),
            GrantPolicy::new().default_ttl(Duration::from_millis(1500)),
        ] {
            assert!(policy.to_json().is_err(), "{policy:?}");
        }
    }

    #[test]
    fn restrictions_encode_in_order() {
        let restrictions = GrantRestrictions::new()
            .allowed_endpoints(["/v1/items"])
            .allowed_methods(["GET"]);
        assert_eq!(
            serde_json::to_string(&restrictions.to_json().unwrap().unwrap()).unwrap(),
            r#"{"allowed_methods":["GET"],"allowed_endpoints":["/v1/items"]}"#
        );
        assert_eq!(GrantRestrictions::new().to_json().unwrap(), None);
        let empty: [&str; 0] = [];
        assert!(
            GrantRestrictions::new()
                .allowed_methods(empty)
                .to_json()
                .is_err()
        );
    }

    #[test]
    fn scope_constraint_rules() {
        let ok = |atoms: &[&str]| {
            check_scope_constraint(&atoms.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
        };
        assert!(ok(&["repo:read", " gmail.send "]).is_ok());
        for bad in [
            &[][..],
            &["*"],
            &[" "],
            &["a b"],
            &["say\"hi"],
            &["back\\slash"],
            &["caf\u{e9}"],
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
        assert!(ok(&vec!["a"; 101]).is_err());
        assert!(ok(&[&"a".repeat(513)]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn scope_constraint_never_panics(atoms in proptest::collection::vec("\\PC{0,20}", 0..5)) {
            let _ = check_scope_constraint(&atoms);
        }
    }
}
