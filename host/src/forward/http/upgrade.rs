//! A `101 Switching Protocols` answer (WebSocket and friends): once the
//! `101` is written, the client connection leaves hyper with the bytes it
//! already read, and is joined to the upstream connection and copied both
//! ways like a tcp endpoint's, idle timeout included. Done by hand rather
//! than by hyper's `OnUpgrade`, because the client connection is taken back
//! from hyper the same way when it parks.
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncWrite};

use super::client::Conn;
use crate::forward::endpoint::EndpointRoute;
use crate::forward::io::copy::{self, CopyError};
use crate::forward::metrics::EndpointCounters;
use crate::forward::upstream::ActiveGuard;

/// The upstream side of a switch, waiting for the client side.
pub struct Switch {
    pub upstream: Conn,
    /// The upstream's in-flight mark, held for the tunnel's life.
    pub active: ActiveGuard,
    pub route: Arc<EndpointRoute>,
}

/// Where a request that switched protocols leaves its upstream side for
/// the connection: at most one, since nothing follows a switch.
#[derive(Default)]
pub struct Pending(Mutex<Option<Switch>>);

impl Pending {
    pub fn put(&self, switch: Switch) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(switch);
    }

    pub fn take(&self) -> Option<Switch> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Copy between the switched client connection (with the bytes it sent
/// after its request in front) and the upstream until both are done.
pub async fn tunnel<C>(client: C, switch: Switch, counters: &EndpointCounters)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let Switch {
        upstream,
        active,
        route,
    } = switch;
    let _active = active;
    let idle = route.settings.idle_timeout();
    match copy::bidirectional(client, upstream, idle).await {
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
}
