//! The connect session fields that shape the grant: `grant_policy`, `scope_constraint`,
//! `agent` and `delegable`.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::dev::body::{JsonObject, wrong_type};
use crate::dev::errors::ApiError;
use crate::dev::server::DevState;
use crate::dev::verify::SignedCaller;
use crate::dev::wire::code;

const MAX_SCOPE_ATOMS: usize = 100;
const MAX_SCOPE_ATOM_LEN: usize = 512;

/// The lifetime limits of `grant_policy`, applied when the grant is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(in crate::dev) struct GrantPolicy {
    /// Unix seconds.
    expires_at: Option<u64>,
    max_ttl: Option<u64>,
    default_ttl: Option<u64>,
}

impl GrantPolicy {
    /// Returns when a grant created at `now` expires: after the default TTL (or the maximum TTL
    /// when no default is set), and never after `expires_at`.
    pub(in crate::dev) fn expiry(&self, now: u64) -> Option<u64> {
        let ttl = self.default_ttl.or(self.max_ttl);
        let by_ttl = ttl.map(|ttl| now.saturating_add(ttl));
        match (by_ttl, self.expires_at) {
            (Some(by_ttl), Some(expires_at)) => Some(by_ttl.min(expires_at)),
            (by_ttl, expires_at) => by_ttl.or(expires_at),
        }
    }
}

/// Reads `grant_policy`: an object with any of `expires_at` (RFC 3339, in the future),
/// `max_ttl_seconds` and `default_ttl_seconds` (positive integers, the default at most the
/// maximum), and no other member.
pub(super) fn grant_policy(body: &JsonObject, now: u64) -> Result<Option<GrantPolicy>, ApiError> {
    let Some(object) = body.optional_object("grant_policy")? else {
        return Ok(None);
    };
    if let Some(key) = object.keys().find(|key| {
        !matches!(
            key.as_str(),
            "expires_at" | "max_ttl_seconds" | "default_ttl_seconds"
        )
    }) {
        return Err(ApiError::invalid_request(format!(
            "grant_policy has an unknown field `{key}`; it accepts `expires_at`, \
             `max_ttl_seconds` and `default_ttl_seconds`"
        )));
    }
    let policy = GrantPolicy {
        expires_at: policy_expires_at(object, now)?,
        max_ttl: positive_seconds(object, "max_ttl_seconds")?,
        default_ttl: positive_seconds(object, "default_ttl_seconds")?,
    };
    if let (Some(default_ttl), Some(max_ttl)) = (policy.default_ttl, policy.max_ttl)
        && default_ttl > max_ttl
    {
        return Err(ApiError::invalid_request(format!(
            "grant_policy.default_ttl_seconds ({default_ttl}) exceeds max_ttl_seconds \
             ({max_ttl})"
        )));
    }
    if policy == GrantPolicy::default() {
        return Err(ApiError::invalid_request(
            "grant_policy sets nothing; send at least one of `expires_at`, `max_ttl_seconds` \
             and `default_ttl_seconds`, or leave it out",
        ));
    }
    Ok(Some(policy))
}

fn policy_expires_at(object: &Map<String, Value>, now: u64) -> Result<Option<u64>, ApiError> {
    let text = match object.get("expires_at") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text,
        Some(other) => {
            return Err(wrong_type(
                "grant_policy.expires_at",
                "an RFC 3339 string",
                other,
            ));
        }
    };
    let moment = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::invalid_request(format!(
            "grant_policy.expires_at {text:?} is not an RFC 3339 timestamp such as \
             2030-01-01T00:00:00Z"
        ))
    })?;
    match u64::try_from(moment.unix_timestamp()) {
        Ok(expires_at) if expires_at > now => Ok(Some(expires_at)),
        _ => Err(ApiError::invalid_request(format!(
            "grant_policy.expires_at {text:?} is in the past; send a later time"
        ))),
    }
}

fn positive_seconds(object: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) if number.as_u64().is_some_and(|n| n > 0) => {
            Ok(number.as_u64())
        }
        Some(other) => Err(wrong_type(
            &format!("grant_policy.{key}"),
            "a positive integer",
            other,
        )),
    }
}

/// Reads `scope_constraint`: 1 to 100 atoms, each non-empty once trimmed, not `*`, at most 512
/// characters of printable ASCII other than space, `"` and `\`. A bad constraint gets 422
/// `invalid_scope_constraint`, as from the backend.
pub(super) fn scope_constraint(body: &JsonObject) -> Result<Option<Vec<String>>, ApiError> {
    let Some(atoms) = body.optional_str_list("scope_constraint")? else {
        return Ok(None);
    };
    let invalid = |problem: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::INVALID_SCOPE_CONSTRAINT,
            problem,
        )
    };
    if atoms.is_empty() || atoms.len() > MAX_SCOPE_ATOMS {
        return Err(invalid(format!(
            "scope_constraint must list 1 to {MAX_SCOPE_ATOMS} scopes, got {}",
            atoms.len()
        )));
    }
    let mut trimmed = Vec::with_capacity(atoms.len());
    for atom in &atoms {
        let atom = atom.trim();
        let printable = atom
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'"' && byte != b'\\');
        if atom.is_empty() || atom == "*" || atom.len() > MAX_SCOPE_ATOM_LEN || !printable {
            return Err(invalid(format!(
                "scope_constraint entry {atom:?} is invalid: each entry is one scope of 1 to \
                 {MAX_SCOPE_ATOM_LEN} printable ASCII characters without spaces, quotes or \
                 backslashes, and not `*`"
            )));
        }
        trimmed.push(atom.to_owned());
    }
    Ok(Some(trimmed))
}

/// Returns one warning per constraint atom that no scope the session requests matches; such
/// an atom limits nothing.
pub(super) fn scope_constraint_warnings(
    constraint: &[String],
    requested: &[String],
) -> Vec<String> {
    constraint
        .iter()
        .filter(|atom| !requested.contains(atom))
        .map(|atom| format!("scope_constraint entry {atom:?} matches no requested scope"))
        .collect()
}

/// Resolves `agent` (an agent id or name) to the agent the grant is delegated to. An agent key
/// may name only its own agent.
pub(super) fn agent(
    state: &DevState,
    body: &JsonObject,
    caller: &SignedCaller,
) -> Result<Option<Uuid>, ApiError> {
    let Some(reference) = body.optional_str("agent")? else {
        return Ok(None);
    };
    let agent = state.agents.resolve(reference).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code::AGENT_NOT_FOUND,
            format!(
                "no managed agent has the id or name {reference:?}; create one with \
                 DevVault::create_agent"
            ),
        )
    })?;
    if caller.agent_id.is_some_and(|own| own != agent) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::CALLER_AGENT_MISMATCH,
            format!("an agent key may delegate grants only to its own agent, not {reference:?}"),
        ));
    }
    Ok(Some(agent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(value: Value) -> Result<Option<GrantPolicy>, ApiError> {
        let body = serde_json::to_vec(&serde_json::json!({ "grant_policy": value })).unwrap();
        grant_policy(&JsonObject::parse(&body).unwrap(), 1_700_000_000)
    }

    #[test]
    fn policy_expiry_takes_the_earliest_limit() {
        let now = 1_700_000_000;
        let cases = [
            (serde_json::json!({"max_ttl_seconds": 60}), now + 60),
            (
                serde_json::json!({"max_ttl_seconds": 600, "default_ttl_seconds": 60}),
                now + 60,
            ),
            (
                serde_json::json!({"expires_at": "2023-11-14T22:14:20Z", "max_ttl_seconds": 600}),
                now + 60,
            ),
            (
                serde_json::json!({"expires_at": "2023-11-14T22:23:20Z"}),
                now + 600,
            ),
        ];
        for (value, expected) in cases {
            let parsed = policy(value.clone()).unwrap().unwrap();
            assert_eq!(parsed.expiry(now), Some(expected), "{value}");
        }
    }

    #[test]
    fn bad_policies_are_rejected() {
        for value in [
            serde_json::json!({}),
            serde_json::json!({"ttl": 5}),
            serde_json::json!({"max_ttl_seconds": 0}),
            serde_json::json!({"max_ttl_seconds": 1.5}),
            serde_json::json!({"max_ttl_seconds": 10, "default_ttl_seconds": 11}),
            serde_json::json!({"expires_at": "tomorrow"}),
            serde_json::json!({"expires_at": "2001-01-01T00:00:00Z"}),
        ] {
            let error = policy(value.clone()).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{value}");
        }
    }

    #[test]
    fn scope_constraint_rules() {
        let parse = |value: Value| {
            let body =
                serde_json::to_vec(&serde_json::json!({ "scope_constraint": value })).unwrap();
            scope_constraint(&JsonObject::parse(&body).unwrap())
        };
        assert_eq!(
            parse(serde_json::json!([" messages.read "])).unwrap(),
            Some(vec!["messages.read".to_owned()])
        );
        for bad in [
            serde_json::json!([]),
            serde_json::json!(["*"]),
            serde_json::json!(["a b"]),
            serde_json::json!(["a\"b"]),
            serde_json::json!(["x".repeat(513)]),
            serde_json::json!(vec!["a"; 101]),
        ] {
            let error = parse(bad.clone()).unwrap_err();
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert_eq!(error.code(), code::INVALID_SCOPE_CONSTRAINT, "{bad}");
        }
    }

    #[test]
    fn warnings_name_unmatched_atoms() {
        let warnings = scope_constraint_warnings(
            &["messages.read".into(), "calendar.read".into()],
            &["messages.read".into(), "messages.write".into()],
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("calendar.read"), "{warnings:?}");
    }
}
