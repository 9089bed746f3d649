//! [`AlterContext`], the per-call context of a tool, and how rmcp extracts it.

use std::fmt;
use std::sync::Arc;

use http::Method;
use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::service::RequestContext;

use super::authorization::ClientProfile;
use super::stdio::TransportUser;
use crate::identity::{self, UserToken};
use crate::protocol::context::AuditContext;
use crate::vault::{RequestBuilder, Vault};

/// A server type that gives its tools the application's vault, through which
/// [`AlterContext`] finds it.
///
/// ```no_run
/// use alter::Vault;
/// use alter::mcp::HasVault;
///
/// #[derive(Clone)]
/// struct Server {
///     vault: Vault,
/// }
///
/// impl HasVault for Server {
///     fn vault(&self) -> &Vault {
///         &self.vault
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not give its tools a vault",
    label = "`AlterContext` reads the vault from this server",
    note = "implement `alter::mcp::HasVault` for `{Self}`, returning the application's `Vault`"
)]
pub trait HasVault {
    /// Returns the application's vault.
    ///
    /// A user bound to it with [`Vault::with_user_token`] is never used: each call acts for the
    /// user who made it.
    fn vault(&self) -> &Vault;
}

/// The context of one tool call: the vault bound to the user who made the call, the provider
/// of the tool, and the audit context.
///
/// Take it as a parameter of a tool. With [`#[alter::tool]`](crate::tool) it arrives with the
/// attribute's provider and label set. In a plain rmcp `#[tool]` it is an extractor like
/// `Parameters`, with no provider. Either way the server type implements [`HasVault`].
///
/// The user comes from the call itself, never from the MCP session or the server: over
/// streamable HTTP from the HTTP request that carried the JSON-RPC call (a [`UserToken`] an
/// authentication layer put in the request extensions, else the `Authorization: Bearer`
/// header), and over a transport built with [`with_user`](super::with_user) or
/// [`stdio`](super::stdio) from that transport. A client that sends another token on the
/// same session is served as the other user. A call without a user fails with the JSON-RPC
/// error `-32600` before the tool runs.
#[derive(Clone)]
pub struct AlterContext {
    vault: Vault,
    user: UserToken,
    provider: Option<Arc<str>>,
    label: Option<Arc<str>>,
    audit: AuditContext,
    client: ClientProfile,
}

impl AlterContext {
    /// Starts a credential request for the call's user, with the provider and label of the
    /// tool and the audit context preset.
    ///
    /// ```no_run
    /// # async fn run(ctx: alter::mcp::AlterContext) -> Result<(), alter::Error> {
    /// use alter::Method;
    ///
    /// let me: serde_json::Value = ctx
    ///     .request(Method::GET, "https://api.github.com/user")
    ///     .send()
    ///     .await?
    ///     .json()?;
    /// # Ok(()) }
    /// ```
    ///
    /// Without a provider (a plain `#[tool]` that did not call
    /// [`with_provider`](Self::with_provider)) choose the grant on the builder.
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder {
        let mut request = self.vault.request(method, url);
        if let Some(provider) = &self.provider {
            request = request.provider(provider.as_ref());
        }
        if let Some(label) = &self.label {
            request = request.label(label.as_ref());
        }
        for (key, value) in self.audit.iter() {
            request = request.context(key, value);
        }
        request
    }

    /// Returns the vault bound to the call's user.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Returns the token of the user who made the call.
    pub fn user_token(&self) -> &UserToken {
        &self.user
    }

    /// Returns the provider that [`request`](Self::request) uses.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// Returns the grant label that [`request`](Self::request) uses.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Returns the audit context that [`request`](Self::request) sends.
    pub fn audit_context(&self) -> &AuditContext {
        &self.audit
    }

    /// Returns the context with `provider` preset for [`request`](Self::request).
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into().into());
        self
    }

    /// Returns the context with the grant `label` preset for [`request`](Self::request).
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into().into());
        self
    }

    /// Sets the provider, label and audit context of an `#[alter::tool]` call.
    pub(crate) fn for_tool(
        mut self,
        provider: &str,
        label: Option<&str>,
        audit: AuditContext,
    ) -> Self {
        self.provider = Some(provider.into());
        self.label = label.map(Arc::from);
        self.audit = audit;
        self
    }

    pub(crate) fn client(&self) -> &ClientProfile {
        &self.client
    }

    /// Builds the context of the call `request` for the tool named `tool`.
    fn extract(
        vault: &Vault,
        request: &RequestContext<RoleServer>,
        tool: &str,
    ) -> Result<Self, ErrorData> {
        let user = call_user(request)?;
        Ok(Self {
            vault: vault.with_user_token(user.clone()),
            user,
            provider: None,
            label: None,
            audit: AuditContext::new().with("tool", tool),
            client: ClientProfile::of(request),
        })
    }
}

impl<S: HasVault> FromContextPart<ToolCallContext<'_, S>> for AlterContext {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        Self::extract(
            context.service.vault(),
            context.request_context(),
            context.name(),
        )
    }
}

impl fmt::Debug for AlterContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlterContext")
            .field("user", &self.user)
            .field("provider", &self.provider)
            .field("label", &self.label)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

/// Finds the user of one JSON-RPC call: the user of a [`with_user`](super::with_user)
/// transport, else the user of the HTTP request that carried the call.
fn call_user(request: &RequestContext<RoleServer>) -> Result<UserToken, ErrorData> {
    if let Some(TransportUser(user)) = request.extensions.get::<TransportUser>() {
        return Ok(user.clone());
    }
    let Some(parts) = request.extensions.get::<http::request::Parts>() else {
        return Err(ErrorData::invalid_request(
            "this call carries no user: serve the tools over streamable HTTP with a bearer \
             token, or over a transport made with `alter::mcp::stdio` or `alter::mcp::with_user`",
            None,
        ));
    };
    match identity::request_user_token(parts) {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(ErrorData::invalid_request(
            "this tool needs a signed-in user; send `Authorization: Bearer <token>`",
            None,
        )),
        Err(malformed) => Err(ErrorData::invalid_request(malformed.message(), None)),
    }
}
