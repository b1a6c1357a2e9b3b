//! HTTP endpoints (being written): see the module map in `forward/mod.rs`.
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::endpoint::EndpointRoute;
use super::metrics::EndpointCounters;

pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    routes: watch::Receiver<Arc<EndpointRoute>>,
    counters: EndpointCounters,
    stop: CancellationToken,
) {
    let _ = (stream, peer, routes, counters, stop);
}
