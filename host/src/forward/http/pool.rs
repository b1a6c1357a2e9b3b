//! Idle HTTP/1.1 connections to one upstream, reused across requests (and
//! across generations: the pool belongs to the upstream, not to a route).
//! A connection comes back when its response has been read to the end, and
//! a request takes one opened on its own forwarder thread, whose runtime
//! watches its socket: a request and its upstream connection never wake
//! each other across threads. One the upstream closed meanwhile is dropped
//! when found.
use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::client::Conn;

/// Idle connections kept per upstream; the oldest beyond this is closed.
const MAX_KEPT: usize = 128;
/// An idle connection older than this is closed rather than reused (most
/// servers close keep-alive connections after 60–120 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(50);

#[derive(Default)]
pub struct IdlePool {
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    addr: SocketAddr,
    conn: Conn,
    thread: ThreadId,
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdlePool({})", self.len())
    }
}

impl IdlePool {
    /// The most recently used idle connection to `addr` opened on this
    /// thread and still open, if any.
    pub fn take(&self, addr: SocketAddr) -> Option<Conn> {
        let here = std::thread::current().id();
        loop {
            let mut conn = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                let at = idle
                    .iter()
                    .rposition(|i| i.addr == addr && i.thread == here)?;
                idle.remove(at).conn
            };
            if conn.since.elapsed() < MAX_IDLE_AGE && !conn.is_stale() {
                return Some(conn);
            }
        }
    }

    /// Keep `conn`, its last response read to the end, for a later request
    /// on this thread (the one whose runtime registered its socket).
    pub fn put(&self, addr: SocketAddr, mut conn: Conn) {
        conn.since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = conn.since;
        idle.retain(|i| now.duration_since(i.conn.since) < MAX_IDLE_AGE);
        if idle.len() >= MAX_KEPT {
            idle.remove(0);
        }
        idle.push(Idle {
            addr,
            conn,
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
