//! Accepting on one thread's listening socket without registering the
//! accepted socket: it is registered with epoll only by the thread chosen to
//! serve it, so a connection handed to another thread costs no epoll_ctl
//! DEL and ADD on the way (tokio's `TcpListener::accept` registers at once).
use std::io;
use std::net::SocketAddr;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A listening socket registered with this thread's runtime. Accepted
/// sockets are not registered until the thread that serves them is chosen,
/// so a connection handed to another thread is registered once, there.
pub struct Accepting(AsyncFd<mio::net::TcpListener>);

impl Accepting {
    pub fn new(listener: std::net::TcpListener) -> io::Result<Accepting> {
        let listener = mio::net::TcpListener::from_std(listener);
        // SAFETY: the mio listener owns its descriptor, open until it drops
        // with the AsyncFd that owns it, and always returns that one.
        unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) }
            .map(Accepting)
            .map_err(|e| e.into_parts().1)
    }

    /// The next connection, non-blocking and close-on-exec (accept4).
    pub async fn accept(&self) -> io::Result<(std::net::TcpStream, SocketAddr)> {
        loop {
            let mut ready = self.0.readable().await?;
            match ready.try_io(|l| l.get_ref().accept()) {
                Ok(accepted) => return accepted.map(|(s, peer)| (s.into(), peer)),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Register an accepted connection with this thread's runtime; a failure
/// closes it and is logged.
pub fn register(stream: std::net::TcpStream, peer: SocketAddr) -> Option<tokio::net::TcpStream> {
    tokio::net::TcpStream::from_std(stream)
        .inspect_err(|e| {
            tracing::warn!(client = %peer, error = %e, "cannot register the connection on this thread; closed");
        })
        .ok()
}

#[cfg(test)]
#[path = "accept_tests.rs"]
mod tests;
