//! Retrieve mode: the vault fetches the credential and the SDK calls the provider.

use std::fmt;

use bytes::Bytes;
use http::Method;
use serde::Serialize;

use crate::error::Error;
use crate::identity::UserToken;

use super::Vault;
use super::response::Response;

/// The grant selector of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GrantSelector {
    Unset,
    Provider(String),
    GrantId(String),
    Both,
}

/// The request body.
#[derive(Clone)]
pub(crate) enum Body {
    Empty,
    Json(serde_json::Value),
    Raw(Bytes),
    Invalid(String),
}

/// Builder for a credential request, created by [`Vault::request`].
///
/// Choose the grant with [`provider`](Self::provider) (optionally narrowed by
/// [`account`](Self::account) or [`label`](Self::label)) or with [`grant_id`](Self::grant_id),
/// add whatever the provider request needs, then [`send`](Self::send) it.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    pub(crate) vault: Vault,
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) grant: GrantSelector,
    pub(crate) account: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) app_user_id: Option<String>,
    pub(crate) body: Body,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) path_params: Vec<(String, String)>,
    pub(crate) reason: Option<String>,
    pub(crate) context: Vec<(String, String)>,
    pub(crate) user_token: Option<UserToken>,
}

impl RequestBuilder {
    pub(crate) fn new(vault: Vault, method: Method, url: String) -> Self {
        Self {
            vault,
            method,
            url,
            grant: GrantSelector::Unset,
            account: None,
            label: None,
            app_user_id: None,
            body: Body::Empty,
            headers: Vec::new(),
            query: Vec::new(),
            path_params: Vec::new(),
            reason: None,
            context: Vec::new(),
            user_token: None,
        }
    }

    /// Uses the user's grant for this provider id (or managed-secret slug).
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.grant = match self.grant {
            GrantSelector::Unset | GrantSelector::Provider(_) => {
                GrantSelector::Provider(provider.into())
            }
            _ => GrantSelector::Both,
        };
        self
    }

    /// Uses this grant id.
    pub fn grant_id(mut self, grant_id: impl Into<String>) -> Self {
        self.grant = match self.grant {
            GrantSelector::Unset | GrantSelector::GrantId(_) => {
                GrantSelector::GrantId(grant_id.into())
            }
            _ => GrantSelector::Both,
        };
        self
    }

    /// Chooses among several grants for the provider by account, e.g. an email address.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Chooses among several grants for the provider by the label given at connect time.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Names the end user by the application's own id, for app-scoped calls.
    pub fn app_user_id(mut self, app_user_id: impl Into<String>) -> Self {
        self.app_user_id = Some(app_user_id.into());
        self
    }

    /// Sends `body` as JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = match serde_json::to_value(body) {
            Ok(value) => Body::Json(value),
            Err(error) => Body::Invalid(format!("the JSON body cannot be serialized: {error}")),
        };
        self
    }

    /// Sends `body` as is.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Raw(body.into());
        self
    }

    /// Adds a header to the provider request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter to the provider request, after any query already in the URL.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Fills `{name}` in the URL with `value`, percent-encoded so that it stays one path
    /// segment. A value of `.` or `..` is rejected when the request is sent, because it would
    /// move the request to another path.
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.path_params.push((name.into(), value.into()));
        self
    }

    /// Records why the call is made; it reaches the audit log.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a key to the audit context sent as `X-Alter-Context`.
    ///
    /// A request without any key uses the ambient context of
    /// [`audit_context::scope`](crate::audit_context::scope) instead; one with keys ignores it.
    pub fn context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// Acts for this user instead of the one bound to the vault or in scope.
    pub fn user_token(mut self, token: impl Into<UserToken>) -> Self {
        self.user_token = Some(token.into());
        self
    }
}

impl RequestBuilder {
    /// Fetches the credential, sends the provider request and returns the provider's response.
    ///
    /// Every local check runs before any network call. The audit row is sent in the background
    /// whatever the provider returned; [`Vault::flush`] waits for it.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidRequest`] for invalid arguments or provider URL (checked first);
    /// - [`Error::MissingUserToken`] when the call needs a user and none is in scope;
    /// - the typed backend error when the backend refuses the credential, e.g.
    ///   [`Error::GrantNotFound`] when the user has not connected the provider;
    /// - [`Error::MalformedResponse`] when the credential response breaks the protocol;
    /// - [`Error::ScopeReauthRequired`], [`Error::ProviderUnauthorized`] or [`Error::Provider`]
    ///   when the provider answers with an error status;
    /// - [`Error::Network`] or [`Error::Timeout`] when a request fails to complete.
    ///
    /// [`Vault::flush`]: super::Vault::flush
    pub async fn send(self) -> Result<Response, Error> {
        super::retrieve::send(self).await
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("grant", &self.grant)
            .field("account", &self.account)
            .field("label", &self.label)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("user_token", &self.user_token)
            .finish_non_exhaustive()
    }
}
