//! Transports that serve one configured user, for local clients that start the server as a
//! child process and speak MCP over its stdin and stdout.
//!
//! Such a connection has no HTTP request to carry a bearer token, so the user is given at
//! start, from configuration, and every call received on the transport acts for that user.

use std::borrow::Cow;
use std::future::Future;

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions as _};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::{IntoTransport, Transport};

use crate::identity::UserToken;

/// The user of a transport made with [`with_user`], attached to every request it receives.
#[derive(Clone)]
pub(crate) struct TransportUser(pub(crate) UserToken);

/// A transport whose every request acts for one user; made with [`with_user`] or [`stdio`].
#[derive(Debug)]
pub struct UserTransport<T> {
    inner: T,
    user: UserToken,
}

/// Wraps `transport` so that every tool call it receives acts for the user with `token`.
///
/// Use it for a transport that belongs to one user, such as stdio. Never wrap a transport
/// that several users share.
pub fn with_user<T, E, A>(
    transport: T,
    token: impl Into<UserToken>,
) -> UserTransport<impl Transport<RoleServer, Error = E>>
where
    T: IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    UserTransport {
        inner: transport.into_transport(),
        user: token.into(),
    }
}

/// Serves on the process's stdin and stdout, acting for the user with `token`.
///
/// ```no_run
/// # use alter::rmcp::ServerHandler;
/// # async fn run<S: ServerHandler>(server: S) -> Result<(), Box<dyn std::error::Error>> {
/// use alter::rmcp::ServiceExt as _;
///
/// let token = std::env::var("ALTER_USER_TOKEN")?;
/// let running = server.serve(alter::mcp::stdio(token)).await?;
/// running.waiting().await?;
/// # Ok(()) }
/// ```
pub fn stdio(
    token: impl Into<UserToken>,
) -> UserTransport<impl Transport<RoleServer, Error = std::io::Error>> {
    with_user(rmcp::transport::stdio_pipes(), token)
}

impl<T> Transport<RoleServer> for UserTransport<T>
where
    T: Transport<RoleServer>,
{
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        let mut message = self.inner.receive().await?;
        if let ClientJsonRpcMessage::Request(request) = &mut message {
            request
                .request
                .extensions_mut()
                .insert(TransportUser(self.user.clone()));
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
