//! Constrained vaults: a sibling client that narrows what the API key may do, by binding a
//! scope constraint (`X-Alter-Scope-Constraints`) and a request rule (`X-Alter-Request-Rule`)
//! into every signature.
//!
//! The backend enforces both and returns 400 `constraint_not_narrowing` when a constraint would
//! widen the key's access, so a constraint can only take permissions away.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::Error;

use super::Vault;

/// The longest encoded request rule the backend accepts, in characters.
const MAX_RULE_CHARS: usize = 4096;

/// The limits of a constrained vault, built with [`Constraints::scopes`] or
/// [`Constraints::rule`] and passed to [`Vault::with_constraints`].
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Constraints {
    scopes: Option<Vec<String>>,
    rule: Option<(String, Value)>,
}

impl Constraints {
    /// Narrows the key to these API key scopes, e.g. `connect:write`. They are sent as given,
    /// joined with commas.
    pub fn scopes<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::default().with_scopes(scopes)
    }

    /// Attaches a request rule: `rule_type` names the rule language, e.g. `json_match`, and
    /// `rule_body` is its JSON object.
    pub fn rule(rule_type: impl Into<String>, rule_body: Value) -> Self {
        Self::default().with_rule(rule_type, rule_body)
    }

    /// Adds the scope constraint to constraints that have a rule.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Adds the request rule to constraints that have scopes.
    pub fn with_rule(mut self, rule_type: impl Into<String>, rule_body: Value) -> Self {
        self.rule = Some((rule_type.into(), rule_body));
        self
    }

    /// Returns the `X-Alter-Scope-Constraints` value, or empty without scopes.
    fn encode_scopes(&self) -> Result<String, Error> {
        let Some(scopes) = &self.scopes else {
            return Ok(String::new());
        };
        if scopes.is_empty() {
            return Err(Error::invalid_request(
                "a scope constraint needs at least one scope",
            ));
        }
        for scope in scopes {
            if scope.is_empty() || scope == "*" {
                return Err(Error::invalid_request(format!(
                    "invalid constraint scope {scope:?}: name a scope; an empty scope or `*` \
                     would not narrow anything"
                )));
            }
            if scope.contains(',') || !scope.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(Error::invalid_request(format!(
                    "invalid constraint scope {scope:?}: use printable ASCII without commas"
                )));
            }
        }
        Ok(scopes.join(","))
    }

    /// Returns the `X-Alter-Request-Rule` value, or empty without a rule: the rule as compact
    /// UTF-8 JSON `{"rule_type":…,"rule_body":…}` in base64url without padding.
    fn encode_rule(&self) -> Result<String, Error> {
        let Some((rule_type, rule_body)) = &self.rule else {
            return Ok(String::new());
        };
        if rule_type.is_empty() {
            return Err(Error::invalid_request("the request rule type is empty"));
        }
        if !rule_body.is_object() {
            return Err(Error::invalid_request(
                "the request rule body must be a JSON object",
            ));
        }
        let mut rule = Map::new();
        rule.insert("rule_type".into(), Value::String(rule_type.clone()));
        rule.insert("rule_body".into(), rule_body.clone());
        let json = serde_json::to_vec(&rule).map_err(|error| {
            Error::invalid_request(format!("cannot encode the request rule: {error}"))
        })?;
        let encoded = URL_SAFE_NO_PAD.encode(json);
        if encoded.len() > MAX_RULE_CHARS {
            return Err(Error::invalid_request(format!(
                "the encoded request rule is {} characters long, more than the maximum of \
                 {MAX_RULE_CHARS}",
                encoded.len()
            )));
        }
        Ok(encoded)
    }
}

impl Vault {
    /// Returns a sibling vault whose every request carries `constraints`, so the backend lets
    /// it do less than the API key allows. The sibling shares connections, the signing key and
    /// the audit queue with `self`, keeps the user bound to this handle, and starts with this
    /// vault's cached actor id.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when the constraints are empty or this vault is
    /// already constrained, because constraints do not nest. It is also returned when a scope
    /// is empty, `*`, not printable ASCII or contains a comma, and when the rule type is empty
    /// or the rule body is not a JSON object or encodes to more than 4096 characters.
    pub fn with_constraints(&self, constraints: Constraints) -> Result<Vault, Error> {
        if self.inner().backend().is_constrained() {
            return Err(Error::invalid_request(
                "this vault is already constrained; call `with_constraints` on the \
                 unconstrained vault, with every constraint at once",
            ));
        }
        if constraints.scopes.is_none() && constraints.rule.is_none() {
            return Err(Error::invalid_request(
                "the constraints are empty; set scopes, a rule or both",
            ));
        }
        let scopes = constraints.encode_scopes()?;
        let rule = constraints.encode_rule()?;
        let backend = self.inner().backend().constrained(scopes, rule);
        Ok(Vault {
            inner: Arc::new(self.inner().sibling(backend)),
            user: self.user.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_encodes_like_the_reference_client() {
        let rule = Constraints::rule(
            "json_match",
            json!({"when": {"method": "POST"}, "effect": "deny"}),
        );
        assert_eq!(
            rule.encode_rule().unwrap(),
            "eyJydWxlX3R5cGUiOiJqc29uX21hdGNoIiwicnVsZV9ib2R5Ijp7IndoZW4iOnsibWV0aG9kIjoiUE9TVCJ9LCJlZmZlY3QiOiJkZW55In19"
        );
    }

    #[test]
    fn rule_keeps_non_ascii_as_utf8() {
        let rule = Constraints::rule("t", json!({"name": "caf\u{e9}"}));
        let decoded = URL_SAFE_NO_PAD.decode(rule.encode_rule().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "{\"rule_type\":\"t\",\"rule_body\":{\"name\":\"caf\u{e9}\"}}"
        );
    }

    #[test]
    fn scopes_are_joined_as_given() {
        let scopes = Constraints::scopes(["connect:write", "grants:read", "connect:write"]);
        assert_eq!(
            scopes.encode_scopes().unwrap(),
            "connect:write,grants:read,connect:write"
        );
    }

    #[test]
    fn invalid_constraints_are_rejected() {
        let empty: [&str; 0] = [];
        let cases = [
            Constraints::scopes(empty),
            Constraints::scopes(["*"]),
            Constraints::scopes([""]),
            Constraints::scopes(["a,b"]),
            Constraints::scopes(["caf\u{e9}"]),
        ];
        for constraints in cases {
            assert!(constraints.encode_scopes().is_err(), "{constraints:?}");
        }
        assert!(Constraints::rule("", json!({})).encode_rule().is_err());
        assert!(Constraints::rule("t", json!([1])).encode_rule().is_err());
        let huge = Constraints::rule("t", json!({"x": "y".repeat(4000)}));
        assert!(huge.encode_rule().is_err());
    }
}
