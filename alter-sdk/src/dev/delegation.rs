//! The delegation rules for managed agents: an agent uses only grants delegated to it, and
//! only while they are delegable. Requests signed with an app key are not limited by
//! delegations.

use axum::http::StatusCode;
use uuid::Uuid;

use super::errors::ApiError;
use super::store::StoredGrant;
use super::wire::code;

/// Keeps the candidate grants delegated to `agent`. Without any, the agent gets 404
/// `no_delegated_grant` in the backend's `{"detail": …}` envelope, naming the provider, the
/// agent and the user, which is what a connect session naming the agent needs to fix it.
pub(super) fn delegated_to_agent(
    mut candidates: Vec<StoredGrant>,
    agent: Uuid,
    provider_id: &str,
    user: &str,
) -> Result<Vec<StoredGrant>, ApiError> {
    candidates.retain(|grant| grant.delegated_to.contains(&agent));
    if candidates.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::NO_DELEGATED_GRANT,
            format!(
                "agent {agent} has no grant of user {user:?} for provider {provider_id:?} \
                 delegated to it; create a connect session with `agent` to let the user \
                 delegate one"
            ),
        )
        .with("provider_id", provider_id)
        .with("agent_id", agent.to_string())
        .with("app_user_id", user)
        .in_detail());
    }
    Ok(candidates)
}

/// Checks that `agent` may use `grant`: the grant is delegated to it and still delegable.
pub(super) fn check_agent_use(grant: &StoredGrant, agent: Uuid) -> Result<(), ApiError> {
    if !grant.delegable {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            code::GRANT_NOT_DELEGABLE,
            format!(
                "grant {} is not delegable, so no agent may use it; connect it again with \
                 `delegable: true`",
                grant.id
            ),
        )
        .with("grant_id", grant.id.to_string())
        .with("provider_id", grant.provider_id.clone())
        .with("agent_id", agent.to_string())
        .with("detail_reason", "grant_not_delegable"));
    }
    if !grant.delegated_to.contains(&agent) {
        delegated_to_agent(Vec::new(), agent, &grant.provider_id, &grant.user)?;
    }
    Ok(())
}
