//! Idle HTTP/1.1 connections to one upstream, reused across requests (and
//! across generations: the pool belongs to the upstream, not to a route).
//! A connection goes back once its response has been read to the end, and
//! is taken again first by a request on the forwarder thread that opened it
//! (its connection task runs there).
use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;

use super::body::Metered;

/// Idle connections kept per upstream; more are closed.
const MAX_IDLE: usize = 64;
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
    /// The most recently used open connection to `addr` opened on this
    /// thread, else on another, if any.
    pub fn take(&self, addr: SocketAddr) -> Option<(Sender, ThreadId)> {
        let now = Instant::now();
        let here = std::thread::current().id();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|i| !i.sender.is_closed() && now.duration_since(i.since) < MAX_IDLE_AGE);
        let at = idle
            .iter()
            .rposition(|i| i.addr == addr && i.thread == here)
            .or_else(|| idle.iter().rposition(|i| i.addr == addr))?;
        let i = idle.remove(at);
        Some((i.sender, i.thread))
    }

    /// Keep `sender` for the next request, once it can take one; `thread`
    /// runs its connection task.
    pub fn put(&self, addr: SocketAddr, sender: Sender, thread: ThreadId) {
        if !sender.is_ready() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            addr,
            sender,
            since: Instant::now(),
            thread,
        });
    }

    pub fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
