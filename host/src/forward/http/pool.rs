//! HTTP/1.1 connections to one upstream, reused across requests (and across
//! generations: the pool belongs to the upstream, not to a route). A
//! connection goes back as soon as its response head has arrived, still
//! busy; a request takes one that is ready again (its last response read to
//! the end) and was opened on its own forwarder thread, where its
//! connection task runs: a request and its upstream connection never wake
//! each other across threads. No task waits per request for a connection to
//! free up.
use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;

use super::body::Metered;

/// Connections kept per upstream, busy or idle; the oldest beyond this is
/// let go (it closes once its response is done).
const MAX_KEPT: usize = 128;
/// An idle connection older than this is closed rather than reused (most
/// servers close keep-alive connections after 60–120 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(50);

pub type Sender = SendRequest<Metered>;

#[derive(Default)]
pub struct IdlePool {
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    addr: SocketAddr,
    sender: Sender,
    since: Instant,
    thread: ThreadId,
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdlePool({})", self.len())
    }
}

impl IdlePool {
    /// The most recently used connection to `addr` opened on this thread
    /// that is ready for a request, if any.
    pub fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let now = Instant::now();
        let here = std::thread::current().id();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|i| !i.sender.is_closed() && now.duration_since(i.since) < MAX_IDLE_AGE);
        let at = idle
            .iter()
            .rposition(|i| i.addr == addr && i.thread == here && i.sender.is_ready())?;
        Some(idle.remove(at).sender)
    }

    /// Keep `sender` for a later request, which takes it once it is ready.
    /// Called on the thread that runs its connection task: a request takes
    /// and gives back its connection on the thread it runs on.
    pub fn put(&self, addr: SocketAddr, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= MAX_KEPT {
            idle.remove(0);
        }
        idle.push(Idle {
            addr,
            sender,
            since: Instant::now(),
            thread: std::thread::current().id(),
        });
    }

    pub fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
