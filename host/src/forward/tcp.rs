//! One TCP connection: ask the router, connect to the first candidate that
//! answers within the connect timeout, then copy both ways.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;

use super::connect::connect;
use super::copy::{self, CopyError};
use super::endpoint::{Choice, EndpointRoute};
use super::metrics::EndpointCounters;
use super::upstream::Upstream;

pub async fn serve(
    client: TcpStream,
    peer: SocketAddr,
    route: Arc<EndpointRoute>,
    counters: EndpointCounters,
) {
    let order = match route.choose(peer, None).0 {
        Choice::Try(order) => order,
        Choice::Reject(reason) => {
            counters.rejected.inc();
            tracing::info!(url = %route.url, client = %peer, %reason, "router rejected the connection");
            return;
        }
    };
    let Some((upstream, stream)) = connect_first(&route, &order, &counters).await else {
        counters.unreachable.inc();
        tracing::warn!(url = %route.url, client = %peer, tried = order.len(), "no upstream could be reached");
        return;
    };
    let _active = upstream.track();
    let idle = route.settings.idle_timeout();
    match copy::bidirectional(client, stream, idle).await {
        Ok(c) => {
            counters.bytes_in.inc_by(c.client_to_upstream);
            counters.bytes_out.inc_by(c.upstream_to_client);
        }
        Err(CopyError::Idle(after)) => {
            counters.idle_closed.inc();
            tracing::debug!(url = %route.url, client = %peer, ?after, "closed idle connection");
        }
        Err(CopyError::Io(e)) => {
            tracing::debug!(url = %route.url, client = %peer, error = %e, "connection ended with an error");
        }
    }
}

/// Walk the router's order; every failure counts against the upstream.
pub async fn connect_first(
    route: &EndpointRoute,
    order: &[Arc<Upstream>],
    counters: &EndpointCounters,
) -> Option<(Arc<Upstream>, TcpStream)> {
    let settings = &route.settings;
    for upstream in order {
        for addr in upstream.addrs() {
            match tokio::time::timeout(settings.connect_timeout(), connect(addr)).await {
                Ok(Ok(stream)) => {
                    upstream.succeeded();
                    return Some((upstream.clone(), stream));
                }
                Ok(Err(e)) => {
                    tracing::debug!(url = %route.url, upstream = %upstream.address, %addr, error = %e, "connect failed");
                }
                Err(_) => {
                    tracing::debug!(url = %route.url, upstream = %upstream.address, %addr, "connect timed out");
                }
            }
        }
        counters.connect_failures.inc();
        if let Some(eject) = upstream.failed(
            settings.eject_after_failures,
            settings.eject(),
            Instant::now(),
        ) {
            counters.ejections.inc();
            tracing::warn!(url = %route.url, upstream = %upstream.address, ?eject, "upstream ejected after consecutive failures");
        }
    }
    None
}
