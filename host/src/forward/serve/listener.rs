//! A listening socket per projected endpoint and its accept loop. The loop
//! logs and continues on every error; it stops only when told to.
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::accept::Accepting;
use super::limit::{Limit, Slot};
use super::spread::{Handoff, Spread};
use crate::forward::metrics::EndpointCounters;

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

/// Serves an accepted connection on the thread it is handed to: the
/// protocol layer's side of the accept loop.
pub trait Serve {
    fn serve(&self, h: Handoff<Slot>);
}

/// One endpoint's accept loop on one forwarder thread.
pub struct AcceptLoop<S> {
    /// Registered with the runtime of the thread the loop runs on.
    pub listener: std::net::TcpListener,
    /// Connections other threads hand over to this one.
    pub inbox: mpsc::UnboundedReceiver<Handoff<Slot>>,
    pub limit: Arc<Limit>,
    pub counters: EndpointCounters,
    pub stop: CancellationToken,
    /// Which forwarder thread this is, and the endpoint's connection
    /// counts per thread.
    pub shard: usize,
    pub spread: Arc<Spread<Slot>>,
    pub conns: S,
}

impl<S: Serve> AcceptLoop<S> {
    pub async fn run(self) {
        let AcceptLoop {
            listener,
            mut inbox,
            limit,
            counters,
            stop,
            shard,
            spread,
            conns,
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
                _ = stop.cancelled() => {
                    // Connections already handed to this thread are
                    // accepted ones: serve them. Closing first makes any
                    // later hand-over fail, and its sender serves it.
                    inbox.close();
                    while let Ok(h) = inbox.try_recv() {
                        conns.serve(h);
                    }
                    return;
                }
                a = listener.accept() => a,
                Some(h) = inbox.recv() => {
                    conns.serve(h);
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
            counters.accepted.inc();
            let Some(permit) = limit.try_acquire() else {
                counters.over_limit.inc();
                tracing::debug!(client = %peer, "maxConnections reached; closing");
                continue;
            };
            if let Some(h) = spread.assign(shard, stream, peer, permit) {
                conns.serve(h);
            }
        }
    }
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
