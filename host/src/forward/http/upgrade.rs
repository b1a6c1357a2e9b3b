//! A `101 Switching Protocols` answer (WebSocket and friends): once both
//! sides have switched, the two connections are joined and copied both ways
//! like a tcp endpoint's, idle timeout included.
use std::sync::Arc;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_util::task::TaskTracker;

use super::client::Conn;
use crate::forward::endpoint::EndpointRoute;
use crate::forward::io::copy::{self, CopyError};
use crate::forward::metrics::EndpointCounters;
use crate::forward::upstream::ActiveGuard;

/// The tunnel runs as a task of `tunnels`, which its client connection
/// waits for before it ends.
pub fn splice(
    tunnels: &TaskTracker,
    client: OnUpgrade,
    upstream: Conn,
    active: ActiveGuard,
    route: Arc<EndpointRoute>,
    counters: EndpointCounters,
) {
    tunnels.spawn(async move {
        let _active = active;
        let client = match client.await {
            Ok(client) => client,
            Err(e) => {
                tracing::debug!(url = %route.url, error = %e, "protocol switch did not complete");
                return;
            }
        };
        let idle = route.settings.idle_timeout();
        match copy::bidirectional(TokioIo::new(client), upstream, idle).await {
            Ok(c) => {
                counters.bytes_in.inc_by(c.client_to_upstream);
                counters.bytes_out.inc_by(c.upstream_to_client);
            }
            Err(CopyError::Idle(_)) => {
                counters.idle_closed.inc();
            }
            Err(CopyError::Io(e)) => {
                tracing::debug!(url = %route.url, error = %e, "upgraded connection ended with an error");
            }
        }
    });
}
