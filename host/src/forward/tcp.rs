//! One TCP connection: ask the router, connect to the first candidate that
//! answers within the connect timeout, then copy both ways.
//!
//! Most clients speak first, and their first bytes are often in by the time
//! the connection is served: they are read at once, without waiting for a
//! readiness event, and sent as soon as the upstream's handshake is done.
//! The upstream is woken once, for the connection and its first bytes
//! together, and the bytes skip a trip through the event loop.
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::net::TcpStream;

use super::endpoint::EndpointRoute;
use super::io::connect::connect_sending;
use super::io::copy::{self, CopyError};
use super::io::one_way::{BUFFER, OneWay};
use super::metrics::EndpointCounters;
use super::serve::accept::register;
use super::upstream::Upstream;
use crate::plugin::Decision;

/// `client` is registered with this thread's runtime here, after its first
/// bytes were read: registering a socket with bytes waiting reports it
/// readable, a wake-up for nothing once they are gone.
pub async fn serve(
    client: std::net::TcpStream,
    peer: SocketAddr,
    route: Arc<EndpointRoute>,
    counters: &EndpointCounters,
) {
    let order = match route.choose(peer, None).0 {
        Decision::Try(order) => order,
        Decision::Reject(reason) => {
            counters.rejected.inc();
            tracing::info!(url = %route.url, client = %peer, %reason, "router rejected the connection");
            return;
        }
    };
    let first = match early_bytes(&client) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(url = %route.url, client = %peer, error = %e, "connection ended with an error");
            return;
        }
    };
    let Some(client) = register(client, peer) else {
        return;
    };
    let Some((upstream, stream, sent)) = connect_first(&route, &order, counters, &first).await
    else {
        counters.unreachable.inc();
        tracing::warn!(url = %route.url, client = %peer, tried = order.len(), "no upstream could be reached");
        return;
    };
    let _active = upstream.track();
    let idle = route.settings.idle_timeout();
    match copy::bidirectional_from(client, stream, idle, OneWay::seeded(first, sent)).await {
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
    order: &[u32],
    counters: &EndpointCounters,
    first: &[u8],
) -> Option<(Arc<Upstream>, TcpStream, usize)> {
    let settings = &route.settings;
    for upstream in route.order(order) {
        for addr in upstream.addrs() {
            match tokio::time::timeout(settings.connect_timeout(), connect_sending(addr, first))
                .await
            {
                Ok(Ok((stream, sent))) => {
                    upstream.succeeded();
                    return Some((upstream.clone(), stream, sent));
                }
                Ok(Err(e)) => {
                    tracing::debug!(url = %route.url, upstream = %upstream.address, %addr, error = %e, "connect failed");
                }
                Err(_) => {
                    tracing::debug!(url = %route.url, upstream = %upstream.address, %addr, "connect timed out");
                }
            }
        }
        route.connect_failed(upstream, counters);
    }
    None
}

/// What the client has sent so far, read without waiting: nothing if it has
/// sent nothing yet (or speaks second), and nothing at its end of stream,
/// which the copy reads again.
fn early_bytes(client: &std::net::TcpStream) -> std::io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(BUFFER);
    match socket2::SockRef::from(client).recv(buf.spare_capacity_mut()) {
        // SAFETY: `recv` initialised the first `n` bytes.
        Ok(n) => unsafe { buf.set_len(n) },
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(buf)
}
