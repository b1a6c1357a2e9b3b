//! A listening socket per projected endpoint and its accept loop. The loop
//! logs and continues on every error; it stops only when told to.
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::accept::Accepting;
use super::endpoint::EndpointRoute;
use super::limit::{Limit, Slot};
use super::metrics::EndpointCounters;
use super::spread::{Handoff, Spread};
use crate::model::Scheme;

/// `n` listening sockets on `addr`, one per forwarder thread, joined by
/// SO_REUSEPORT so that the kernel spreads new connections over them and
/// wakes one thread per connection. SO_REUSEADDR: a restart must not wait
/// for TIME_WAIT. Non-blocking and not yet registered with a runtime: each
/// thread registers its own.
///
/// TCP_NODELAY is set on the listening sockets, and Linux copies it to
/// every socket they accept.
///
/// A port held by anyone else is refused, as a plain bind would be: a
/// socket without SO_REUSEPORT is bound first, and only then the group.
pub fn bind(addr: SocketAddr, n: usize) -> io::Result<Vec<std::net::TcpListener>> {
    drop(socket(addr, false)?);
    let first = socket(addr, true)?;
    let addr = first.local_addr()?.as_socket().unwrap_or(addr);
    let mut all = vec![first];
    for _ in 1..n {
        all.push(socket(addr, true)?);
    }
    all.into_iter()
        .map(|s| {
            s.listen(4096)?;
            Ok(s.into())
        })
        .collect()
}

fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    // Accepted sockets inherit it: no setsockopt per connection.
    socket.set_tcp_nodelay(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

pub struct AcceptLoop {
    /// Registered with the runtime of the thread the loop runs on.
    pub listener: std::net::TcpListener,
    /// Connections other threads hand over to this one.
    pub inbox: mpsc::UnboundedReceiver<Handoff<Slot>>,
    pub conns: Conns,
}

/// What serving a connection of the endpoint on this thread takes.
pub struct Conns {
    pub routes: watch::Receiver<Arc<EndpointRoute>>,
    pub scheme: Scheme,
    pub limit: Arc<Limit>,
    pub counters: EndpointCounters,
    pub stop: CancellationToken,
    pub tracker: TaskTracker,
    /// Which forwarder thread this is, and the endpoint's connection
    /// counts per thread.
    pub shard: usize,
    pub spread: Arc<Spread<Slot>>,
}

impl AcceptLoop {
    pub async fn run(self) {
        let AcceptLoop {
            listener,
            mut inbox,
            conns: this,
        } = self;
        let listener = match Accepting::new(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot register the listening socket on this thread");
                return;
            }
        };
        loop {
            let accepted = tokio::select! {
                _ = this.stop.cancelled() => {
                    // Connections already handed to this thread are
                    // accepted ones: serve them. Closing first makes any
                    // later hand-over fail, and its sender serves it.
                    inbox.close();
                    while let Ok(h) = inbox.try_recv() {
                        this.serve(h);
                    }
                    return;
                }
                a = listener.accept() => a,
                Some(h) = inbox.recv() => {
                    this.serve(h);
                    continue;
                }
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
            this.counters.accepted.inc();
            let Some(permit) = this.limit.try_acquire() else {
                this.counters.over_limit.inc();
                tracing::debug!(client = %peer, "maxConnections reached; closing");
                continue;
            };
            if let Some(h) = this.spread.assign(this.shard, stream, peer, permit) {
                this.serve(h);
            }
        }
    }
}

impl Conns {
    /// Serve `stream` on this thread (its task registers it with this
    /// thread's runtime), counted on this thread while it lasts.
    fn serve(&self, h: Handoff<Slot>) {
        let Handoff {
            stream,
            peer,
            permit,
            live,
        } = h;
        let counters = self.counters.clone();
        // tcp: the route at accept time, for the connection's life; http:
        // the current route for every request. A tcp connection takes
        // neither the receiver nor the stop token (each clone writes to
        // memory that every forwarder thread shares).
        let work = match self.scheme {
            Scheme::Tcp => Work::Tcp(self.routes.borrow().clone()),
            Scheme::Http => Work::Http(self.routes.clone(), self.stop.clone()),
        };
        self.tracker.spawn(async move {
            counters.active.inc();
            match work {
                Work::Tcp(route) => {
                    super::tcp::serve(stream, peer, route, &counters).await;
                }
                Work::Http(routes, stop) => {
                    let client = super::http::Client::new(counters.clone(), peer);
                    super::http::serve(stream, peer, routes, client, stop).await
                }
            }
            // Free the slot before the gauge says so: a client that sees
            // the gauge drop can connect.
            drop(permit);
            drop(live);
            counters.active.dec();
        });
    }
}

/// What a connection's task needs besides its socket.
enum Work {
    Tcp(Arc<EndpointRoute>),
    Http(watch::Receiver<Arc<EndpointRoute>>, CancellationToken),
}

/// Register an accepted connection with this thread's runtime; a failure
/// closes it and is logged.
pub fn register(stream: std::net::TcpStream, peer: SocketAddr) -> Option<TcpStream> {
    TcpStream::from_std(stream)
        .inspect_err(|e| {
            tracing::warn!(client = %peer, error = %e, "cannot register the connection on this thread; closed");
        })
        .ok()
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
