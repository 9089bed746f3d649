//! Connect sessions: a hosted page where the end user authorizes providers.
//!
//! [`ConnectSessionBuilder`] creates a session and returns its URL; the app sends the user
//! there. [`Vault::connect_session_status`] polls once, and [`WaitForConnect`] polls until the
//! user finishes, declines, or the deadline passes.
//! [`Vault::create_connect_session_for_error`] starts the session that repairs a typed error.

mod options;
mod poll;
mod recovery;

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::identity::UserToken;
use crate::protocol::json::to_ascii_vec;

use super::Vault;
use super::backend::{Call, is_canonical_uuid};

pub use options::{GrantPolicy, GrantRestrictions};
pub(crate) use poll::poll_once;
pub use poll::{
    ConnectStatus, ConnectedGrant, DeclinedProvider, Delegation, FailedGrant, GrantPolicyInfo,
    WaitForConnect,
};

const CREATE_PATH: &str = "/sdk/oauth/connect/session";
const MAX_LABEL_LEN: usize = 255;

/// Builder for a connect session, created by [`Vault::create_connect_session`].
#[derive(Debug)]
#[must_use]
pub struct ConnectSessionBuilder {
    vault: Vault,
    allowed_providers: Option<Vec<String>>,
    required_scopes: Vec<(String, Vec<String>)>,
    return_url: Option<String>,
    allowed_origin: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    direct: bool,
    switch_account: bool,
    allow_user_policy_rules: bool,
    grant_policy: Option<GrantPolicy>,
    label: Option<String>,
    restrictions: Option<GrantRestrictions>,
    repair_grant_id: Option<String>,
    /// Whether a repair that the backend rejects with "grant not found" is retried as a plain
    /// session, as recovery from a revoked credential does.
    repair_fallback: bool,
    agent: Option<String>,
    delegable: Option<bool>,
    scope_constraint: Option<Vec<String>>,
    user_token: Option<UserToken>,
}

impl ConnectSessionBuilder {
    pub(crate) fn new(vault: Vault) -> Self {
        Self {
            vault,
            allowed_providers: None,
            required_scopes: Vec::new(),
            return_url: None,
            allowed_origin: None,
            ip_address: None,
            user_agent: None,
            direct: false,
            switch_account: false,
            allow_user_policy_rules: true,
            grant_policy: None,
            label: None,
            restrictions: None,
            repair_grant_id: None,
            repair_fallback: false,
            agent: None,
            delegable: None,
            scope_constraint: None,
            user_token: None,
        }
    }

    /// Limits the page to these provider ids. Without it, every provider the app configured is
    /// offered.
    pub fn allowed_providers<I, S>(mut self, providers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_providers = Some(providers.into_iter().map(Into::into).collect());
        self
    }

    /// Requires these scopes for `provider`.
    pub fn required_scopes<I, S>(mut self, provider: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.required_scopes.push((provider.into(), scopes));
        self
    }

    /// Sends the user to this URL when the flow ends.
    pub fn return_url(mut self, url: impl Into<String>) -> Self {
        self.return_url = Some(url.into());
        self
    }

    /// Lets the page `postMessage` its result to this origin, for popup flows.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origin = Some(origin.into());
        self
    }

    /// Records the end user's IP address and user agent with the session.
    pub fn metadata(mut self, ip_address: Option<String>, user_agent: Option<String>) -> Self {
        self.ip_address = ip_address;
        self.user_agent = user_agent;
        self
    }

    /// Skips the provider choice and sends the user straight to the provider. Needs exactly
    /// one allowed provider.
    pub fn direct(mut self, direct: bool) -> Self {
        self.direct = direct;
        self
    }

    /// Lets the user pick another account at the provider than the one already connected.
    pub fn switch_account(mut self, switch_account: bool) -> Self {
        self.switch_account = switch_account;
        self
    }

    /// Sets whether the user may add their own policy rules to the grant. Allowed by default.
    pub fn allow_user_policy_rules(mut self, allow: bool) -> Self {
        self.allow_user_policy_rules = allow;
        self
    }

    /// Limits the lifetime of the resulting grant.
    pub fn grant_policy(mut self, policy: GrantPolicy) -> Self {
        self.grant_policy = Some(policy);
        self
    }

    /// Stores the resulting grant under this label, so requests can choose it with
    /// `.label(…)`. 1 to 255 characters.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Restricts what the resulting grant may be used for. Needs a [`label`](Self::label),
    /// and the grant can then only be used through proxy mode.
    pub fn restrictions(mut self, restrictions: GrantRestrictions) -> Self {
        self.restrictions = Some(restrictions);
        self
    }

    /// Re-authorizes this existing grant instead of creating a new one, e.g. after its
    /// credential was revoked. Needs exactly one allowed provider; excludes a label,
    /// restrictions, an agent and switching accounts.
    pub fn repair_grant_id(mut self, grant_id: impl Into<String>) -> Self {
        self.repair_grant_id = Some(grant_id.into());
        self
    }

    /// Delegates the resulting grant to this managed agent (UUID or name).
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Sets whether the resulting grant may be delegated to agents.
    pub fn delegable(mut self, delegable: bool) -> Self {
        self.delegable = Some(delegable);
        self
    }

    /// Limits the resulting grant to these scope atoms, e.g. `gmail.readonly`. 1 to 100
    /// entries, each 1 to 512 printable ASCII characters without spaces, quotes or
    /// backslashes, and not `*`. Sent as given.
    pub fn scope_constraint<I, S>(mut self, atoms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope_constraint = Some(atoms.into_iter().map(Into::into).collect());
        self
    }

    /// Creates the session for this user instead of the one in scope.
    pub fn user_token(mut self, token: impl Into<UserToken>) -> Self {
        self.user_token = Some(token.into());
        self
    }

    /// Creates the session.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] for invalid arguments, [`Error::MissingUserToken`]
    /// when no user is in scope, the typed backend error for an error response, and
    /// [`Error::MalformedResponse`] for a response that does not follow the protocol.
    pub async fn send(mut self) -> Result<ConnectSession, Error> {
        match self.send_once().await {
            Err(Error::GrantNotFound(_)) if self.repair_fallback => {
                tracing::debug!(
                    target: "alter::connect",
                    "the grant to repair no longer exists; creating a plain connect session"
                );
                self.repair_grant_id = None;
                self.send_once().await
            }
            other => other,
        }
    }

    async fn send_once(&self) -> Result<ConnectSession, Error> {
        let body = self.encode()?;
        let reply = self
            .vault
            .inner()
            .backend()
            .send_checked(Call::post_json(CREATE_PATH, body))
            .await?;
        parse_session(&reply.body)
    }

    /// Returns the allowed providers, trimmed and without case-insensitive duplicates.
    fn distinct_providers(&self) -> Vec<String> {
        let mut distinct: Vec<String> = Vec::new();
        for provider in self.allowed_providers.iter().flatten() {
            let provider = provider.trim().to_lowercase();
            if !distinct.contains(&provider) {
                distinct.push(provider);
            }
        }
        distinct
    }

    fn check(&self) -> Result<(), Error> {
        if let Some(providers) = &self.allowed_providers {
            if providers.is_empty() {
                return Err(Error::invalid_request(
                    "allowed providers is empty; leave it unset to offer every provider",
                ));
            }
            if providers.iter().any(|p| p.trim().is_empty()) {
                return Err(Error::invalid_request(
                    "allowed providers contains a blank provider id",
                ));
            }
        }
        if let Some(label) = &self.label {
            let length = label.chars().count();
            if length == 0 || length > MAX_LABEL_LEN {
                return Err(Error::invalid_request(format!(
                    "the grant label must be 1 to {MAX_LABEL_LEN} characters, got {length}"
                )));
            }
        }
        if self.restrictions.is_some() && self.label.is_none() {
            return Err(Error::invalid_request(
                "grant restrictions need a label for the restricted grant; add `.label(…)`",
            ));
        }
        if self.agent.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid_request("the agent must not be empty"));
        }
        let single_provider = self.distinct_providers().len() == 1;
        if self.direct && !single_provider {
            return Err(Error::invalid_request(
                "a direct connect session needs exactly one allowed provider",
            ));
        }
        if let Some(grant_id) = &self.repair_grant_id {
            if !is_canonical_uuid(grant_id) {
                return Err(Error::invalid_request(format!(
                    "the grant id to repair {:?} is not a lower-case hyphenated UUID",
                    grant_id.chars().take(64).collect::<String>()
                )));
            }
            if !single_provider {
                return Err(Error::invalid_request(
                    "repairing a grant needs exactly one allowed provider: the grant's",
                ));
            }
            let conflict = [
                (
                    self.label.is_some() || self.restrictions.is_some(),
                    "a label or restrictions",
                ),
                (self.agent.is_some(), "an agent"),
                (self.switch_account, "switching accounts"),
            ];
            if let Some((_, what)) = conflict.iter().find(|(set, _)| *set) {
                return Err(Error::invalid_request(format!(
                    "repairing a grant keeps the grant as it is, so it excludes {what}"
                )));
            }
        }
        if let Some(atoms) = &self.scope_constraint {
            options::check_scope_constraint(atoms)?;
        }
        Ok(())
    }

    /// Encodes the request body, keys in the protocol's order.
    fn encode(&self) -> Result<Vec<u8>, Error> {
        self.check()?;
        let grant_policy = self
            .grant_policy
            .as_ref()
            .map(GrantPolicy::to_json)
            .transpose()?;
        let restrictions = self
            .restrictions
            .as_ref()
            .map(GrantRestrictions::to_json)
            .transpose()?
            .flatten();
        let user_token = self.vault.resolve_user_token(self.user_token.as_ref())?;

        let mut body = Map::new();
        body.insert("allowed_providers".into(), json!(self.allowed_providers));
        body.insert("return_url".into(), json!(self.return_url));
        body.insert("allowed_origin".into(), json!(self.allowed_origin));
        let mut metadata = Map::new();
        if let Some(ip) = &self.ip_address {
            metadata.insert("ip_address".into(), json!(ip));
        }
        if let Some(agent) = &self.user_agent {
            metadata.insert("user_agent".into(), json!(agent));
        }
        let metadata = if metadata.is_empty() {
            Value::Null
        } else {
            Value::Object(metadata)
        };
        body.insert("metadata".into(), metadata);
        if self.direct {
            body.insert("direct".into(), json!(true));
        }
        if self.switch_account {
            body.insert("switch_account".into(), json!(true));
        }
        if !self.allow_user_policy_rules {
            body.insert("allow_user_policy_rules".into(), json!(false));
        }
        if let Some(policy) = grant_policy {
            body.insert("grant_policy".into(), policy);
        }
        if !self.required_scopes.is_empty() {
            let scopes: Map<String, Value> = self
                .required_scopes
                .iter()
                .map(|(provider, scopes)| (provider.clone(), json!(scopes)))
                .collect();
            body.insert("required_scopes".into(), Value::Object(scopes));
        }
        if let Some(label) = &self.label {
            let mut requested = Map::new();
            requested.insert("label".into(), json!(label));
            if let Some(restrictions) = restrictions {
                requested.insert("restrictions".into(), restrictions);
            }
            body.insert("requested_grant".into(), Value::Object(requested));
        }
        if let Some(grant_id) = &self.repair_grant_id {
            body.insert("repair_grant_id".into(), json!(grant_id));
        }
        if let Some(agent) = &self.agent {
            body.insert("agent".into(), json!(agent));
        }
        if let Some(delegable) = self.delegable {
            body.insert("delegable".into(), json!(delegable));
        }
        if let Some(atoms) = &self.scope_constraint {
            body.insert("scope_constraint".into(), json!(atoms));
        }
        if let Some(token) = user_token {
            body.insert("user_token".into(), json!(token.expose_secret()));
        }
        to_ascii_vec(&body).map_err(|e| Error::invalid_request(format!("failed to encode: {e}")))
    }
}

/// A created connect session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectSession {
    /// The URL to send the user to.
    pub connect_url: String,
    /// The token that identifies the session when polling it.
    pub session_token: String,
    /// How long the session stays valid.
    pub expires_in: Duration,
    /// When the session expires, as an RFC 3339 timestamp.
    pub expires_at: String,
    /// The backend's remarks on the session's scope constraint, such as entries that match no
    /// requested scope. Empty when it sent none, or sent them in another shape than a list of
    /// strings.
    pub scope_constraint_warnings: Vec<String>,
}

fn parse_session(body: &[u8]) -> Result<ConnectSession, Error> {
    let malformed = |reason: &str| Error::malformed(CREATE_PATH, reason);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("`{key}` must be a non-empty string")))
    };
    let expires_in = object
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("`expires_in` must be an integer of at least 0"))?;
    Ok(ConnectSession {
        session_token: text("session_token")?,
        connect_url: text("connect_url")?,
        expires_at: text("expires_at")?,
        expires_in: Duration::from_secs(expires_in),
        scope_constraint_warnings: object
            .get("scope_constraint_warnings")
            .and_then(Value::as_array)
            .map(|warnings| {
                warnings
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keeps_string_warnings() {
        let session = parse_session(
            br#"{"session_token":"cs_1","connect_url":"https://c.example/s","expires_in":600,"expires_at":"2026-01-01T00:00:00Z","scope_constraint_warnings":["a",1,"b"]}"#,
        )
        .unwrap();
        assert_eq!(session.scope_constraint_warnings, ["a", "b"]);
        let session = parse_session(
            br#"{"session_token":"cs_1","connect_url":"https://c.example/s","expires_in":600,"expires_at":"2026-01-01T00:00:00Z","scope_constraint_warnings":"a"}"#,
        )
        .unwrap();
        assert!(session.scope_constraint_warnings.is_empty());
    }

    #[test]
    fn parses_session() {
        let session = parse_session(
            br#"{"session_token":"cs_1","connect_url":"https://c.example/s","expires_in":600,"expires_at":"2026-01-01T00:00:00Z","extra":1}"#,
        )
        .unwrap();
        assert_eq!(session.session_token, "cs_1");
        assert_eq!(session.expires_in, Duration::from_secs(600));
    }

    #[test]
    fn session_shape_errors() {
        let cases: [&[u8]; 5] = [
            b"not json",
            b"[]",
            br#"{"session_token":"","connect_url":"u","expires_in":1,"expires_at":"t"}"#,
            br#"{"session_token":"s","connect_url":"u","expires_in":1.5,"expires_at":"t"}"#,
            br#"{"session_token":"s","connect_url":"u","expires_in":-1,"expires_at":"t"}"#,
        ];
        for body in cases {
            assert!(
                matches!(parse_session(body), Err(Error::MalformedResponse { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn builder() -> ConnectSessionBuilder {
        Vault::builder("alter_rk_abcdefghijklmnopqrstuv_iwpykn")
            .base_url("https://backend.alterauth.com")
            .build()
            .unwrap()
            .with_user_token("eyJ.user")
            .create_connect_session()
    }

    fn encoded(builder: &ConnectSessionBuilder) -> String {
        String::from_utf8(builder.encode().unwrap()).unwrap()
    }

    #[test]
    fn every_field_in_protocol_order() {
        let builder = builder()
            .allowed_providers(["github"])
            .return_url("https://app.example/done")
            .allowed_origin("https://app.example")
            .metadata(Some("203.0.113.7".into()), None)
            .direct(true)
            .switch_account(true)
            .allow_user_policy_rules(false)
            .grant_policy(GrantPolicy::new().max_ttl(Duration::from_secs(3600)))
            .required_scopes("github", ["repo"])
            .label("work")
            .restrictions(GrantRestrictions::new().allowed_methods(["GET"]))
            .agent("mail-agent")
            .delegable(false)
            .scope_constraint(["repo:read"]);
        assert_eq!(
            encoded(&builder),
            concat!(
                r#"{"allowed_providers":["github"],"return_url":"https://app.example/done","#,
                r#""allowed_origin":"https://app.example","metadata":{"ip_address":"203.0.113.7"},"#,
                r#""direct":true,"switch_account":true,"allow_user_policy_rules":false,"#,
                r#""grant_policy":{"max_ttl_seconds":3600},"required_scopes":{"github":["repo"]},"#,
                r#""requested_grant":{"label":"work","restrictions":{"allowed_methods":["GET"]}},"#,
                r#""agent":"mail-agent","delegable":false,"scope_constraint":["repo:read"],"#,
                r#""user_token":"eyJ.user"}"#
            )
        );
    }

    #[test]
    fn defaults_are_left_out() {
        assert_eq!(
            encoded(&builder()),
            r#"{"allowed_providers":null,"return_url":null,"allowed_origin":null,"metadata":null,"user_token":"eyJ.user"}"#
        );
        let repair = builder()
            .allowed_providers(["github", " GitHub "])
            .repair_grant_id("6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
        assert!(
            encoded(&repair)
                .contains(r#""repair_grant_id":"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f""#)
        );
    }

    #[test]
    fn invalid_combinations_are_rejected() {
        let grant = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
        let cases = [
            (builder().direct(true), "exactly one allowed provider"),
            (
                builder().allowed_providers(["a", "b"]).direct(true),
                "exactly one allowed provider",
            ),
            (
                builder().restrictions(GrantRestrictions::new().allowed_methods(["GET"])),
                "need a label",
            ),
            (
                builder().allowed_providers(["a"]).repair_grant_id("G"),
                "not a lower-case hyphenated UUID",
            ),
            (
                builder().repair_grant_id(grant),
                "exactly one allowed provider",
            ),
            (
                builder()
                    .allowed_providers(["a"])
                    .repair_grant_id(grant)
                    .label("x"),
                "excludes a label",
            ),
            (
                builder()
                    .allowed_providers(["a"])
                    .repair_grant_id(grant)
                    .switch_account(true),
                "excludes switching accounts",
            ),
            (builder().scope_constraint(["*"]), "scope constraint"),
            (builder().grant_policy(GrantPolicy::new()), "sets nothing"),
        ];
        for (builder, expected) in cases {
            let message = builder.encode().unwrap_err().to_string();
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }
}
