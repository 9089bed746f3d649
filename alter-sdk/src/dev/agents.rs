//! Managed agents: workloads with their own agent keys (`alter_ak_…`) that use a user's grant
//! only after the user delegated it to them in a connect session that named the agent.

use std::sync::RwLock;

use uuid::Uuid;

use super::idp::validate_user_name;
use crate::error::Error;
use crate::protocol::api_key::ApiKey;

/// A managed agent DevVault created, with the agent key that acts as it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManagedAgent {
    /// The agent id, sent as `agent_id` in `no_delegated_grant` errors and delegations.
    pub id: Uuid,
    /// The agent name, which a connect session's `agent` field may use instead of the id.
    pub name: String,
    /// The agent key (`alter_ak_…`). Requests signed with it act as this agent.
    pub api_key: ApiKey,
}

/// The agents of one DevVault.
#[derive(Debug, Default)]
pub(super) struct Agents {
    agents: RwLock<Vec<(Uuid, String)>>,
}

impl Agents {
    /// Registers an agent named `name` and returns its id.
    pub(super) fn create(&self, name: &str) -> Result<Uuid, Error> {
        validate_user_name(name).map_err(|problem| {
            Error::invalid_request(format!("invalid agent name {name:?}: {problem}"))
        })?;
        let mut agents = self.agents.write().expect("agent registry lock poisoned");
        if agents.iter().any(|(_, existing)| existing == name) {
            return Err(Error::invalid_request(format!(
                "an agent named {name:?} already exists; choose another name"
            )));
        }
        let id = Uuid::new_v4();
        agents.push((id, name.to_owned()));
        Ok(id)
    }

    /// Returns the id of the agent that `reference` names, by id or by name.
    pub(super) fn resolve(&self, reference: &str) -> Option<Uuid> {
        let agents = self.agents.read().expect("agent registry lock poisoned");
        let by_id = Uuid::try_parse(reference).ok();
        agents
            .iter()
            .find(|(id, name)| Some(*id) == by_id || name == reference)
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_resolves_by_id_and_name() {
        let agents = Agents::default();
        let id = agents.create("mail-bot").unwrap();
        assert_eq!(agents.resolve("mail-bot"), Some(id));
        assert_eq!(agents.resolve(&id.to_string()), Some(id));
        assert_eq!(agents.resolve("other"), None);
        assert_eq!(agents.resolve(&Uuid::new_v4().to_string()), None);
    }

    #[test]
    fn agent_names_are_valid_and_unique() {
        let agents = Agents::default();
        agents.create("mail-bot").unwrap();
        for name in ["mail-bot", "", "Mail Bot"] {
            let result = agents.create(name);
            assert!(
                matches!(result, Err(Error::InvalidRequest(_))),
                "{name:?}: {result:?}"
            );
        }
    }
}
