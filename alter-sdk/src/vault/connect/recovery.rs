//! Recovery from errors that a connect session fixes: the user has no usable grant, or must
//! authorize the provider again.

use crate::error::Error;

use super::super::Vault;
use super::ConnectSessionBuilder;

impl Vault {
    /// Starts the connect session that fixes `error`: one for the error's provider, delegated
    /// to the error's agent for [`Error::NoDelegatedGrant`], asking for the missing scopes for
    /// [`Error::ScopeReauthRequired`], and repairing the grant in place for
    /// [`Error::CredentialRevoked`]. When the grant to repair no longer exists, sending the
    /// session falls back to a plain one for the provider.
    ///
    /// Set anything else on the returned builder (a return URL, for example), then send it.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidRequest`] when a connect session does not fix `error` (see
    /// [`Error::needs_connect_session`]), when the error names no provider, or when a missing
    /// delegation names no agent.
    pub fn create_connect_session_for_error(
        &self,
        error: &Error,
    ) -> Result<ConnectSessionBuilder, Error> {
        if !error.needs_connect_session() {
            return Err(Error::invalid_request(format!(
                "a connect session does not fix this error: {error}"
            )));
        }
        let provider = error.provider_id().ok_or_else(|| {
            Error::invalid_request(
                "the error names no provider, so the connect session cannot choose one; use \
                 `create_connect_session().allowed_providers([…])`",
            )
        })?;
        let mut builder = self.create_connect_session().allowed_providers([provider]);
        match error {
            Error::NoDelegatedGrant(_) => {
                let agent = error.agent_id().ok_or_else(|| {
                    Error::invalid_request(
                        "the missing delegation names no agent, so the session cannot delegate \
                         the grant",
                    )
                })?;
                builder = builder.agent(agent);
            }
            Error::ScopeReauthRequired(_) if !error.missing_scopes().is_empty() => {
                builder = builder.required_scopes(provider, error.missing_scopes().to_vec());
            }
            Error::CredentialRevoked(_) => {
                if let Some(grant_id) = error.grant_id() {
                    builder = builder.repair_grant_id(grant_id);
                    builder.repair_fallback = true;
                }
            }
            _ => {}
        }
        Ok(builder)
    }
}
