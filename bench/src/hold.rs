//! Many open connections at once: each sends one request and then stays open, idle, so that the
//! server's resident memory can be read while they are open.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::load::{RequestSource, connect, send};

/// Opens `connections` connections to `target`, sends one request on each, and returns the
/// open connections with the number whose request succeeded. Dropping the result closes them.
///
/// # Errors
///
/// Returns the first connect error; the server must accept every connection.
pub async fn open(
    source: Arc<dyn RequestSource>,
    target: SocketAddr,
    connections: usize,
) -> Result<(Vec<impl Send>, usize), String> {
    let mut open = Vec::with_capacity(connections);
    let mut succeeded = 0;
    for connection in 0..connections {
        let mut sender = connect(target).await?;
        if send(&mut sender, source.next_request(connection), None)
            .await
            .is_ok()
        {
            succeeded += 1;
        }
        open.push(sender);
    }
    Ok((open, succeeded))
}
