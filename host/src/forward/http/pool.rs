//! Idle HTTP/1.1 connections to one upstream, reused across requests (and
//! across generations: the pool belongs to the upstream, not to a route).
//! A connection goes back once its response has been read to the end.
use std::net::SocketAddr;
use std::sync::Mutex;
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
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdlePool({})", self.len())
    }
}

impl IdlePool {
    /// The most recently used open connection to `addr`, if any.
    pub fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|i| !i.sender.is_closed() && now.duration_since(i.since) < MAX_IDLE_AGE);
        let at = idle.iter().rposition(|i| i.addr == addr)?;
        Some(idle.swap_remove(at).sender)
    }

    /// Keep `sender` for the next request, once it can take one.
    pub fn put(&self, addr: SocketAddr, sender: Sender) {
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
        });
    }

    pub fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
