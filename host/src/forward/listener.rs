//! A listening socket per projected endpoint and its accept loop. The loop
//! logs and continues on every error; it stops only when told to.
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::endpoint::EndpointRoute;
use super::metrics::EndpointCounters;
use crate::model::Scheme;

/// Bind with SO_REUSEADDR (a restart must not wait for TIME_WAIT) and a
/// deep backlog for connection bursts.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    TcpListener::from_std(socket.into())
}

pub struct AcceptLoop {
    pub listener: TcpListener,
    pub routes: watch::Receiver<Arc<EndpointRoute>>,
    pub scheme: Scheme,
    pub limit: Arc<Semaphore>,
    pub counters: EndpointCounters,
    pub stop: CancellationToken,
    pub tracker: TaskTracker,
}

impl AcceptLoop {
    pub async fn run(self) {
        loop {
            let accepted = tokio::select! {
                _ = self.stop.cancelled() => return,
                a = self.listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed; continuing");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            self.counters.accepted.inc();
            let Ok(permit) = self.limit.clone().try_acquire_owned() else {
                self.counters.over_limit.inc();
                tracing::debug!(client = %peer, "maxConnections reached; closing");
                continue;
            };
            let counters = self.counters.clone();
            let scheme = self.scheme;
            // tcp: the route at accept time, for the connection's life;
            // http: the current route for every request.
            let routes = self.routes.clone();
            let stop = self.stop.clone();
            self.tracker.spawn(async move {
                counters.active.inc();
                match scheme {
                    Scheme::Tcp => {
                        let route = routes.borrow().clone();
                        super::tcp::serve(stream, peer, route, counters.clone()).await
                    }
                    Scheme::Http => {
                        super::http::serve(stream, peer, routes, counters.clone(), stop).await
                    }
                }
                // Free the slot before the gauge says so: a client that sees
                // the gauge drop can connect.
                drop(permit);
                counters.active.dec();
            });
        }
    }
}
