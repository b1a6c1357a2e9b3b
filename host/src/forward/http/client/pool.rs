//! Idle HTTP/1.1 connections to one upstream, reused across requests (and
//! across generations: a pool is keyed by the upstream's identity, which
//! outlives a route). A connection comes back when its response has been
//! read to the end, to the pool of the thread it was opened on, whose
//! runtime watches its socket: a request and its upstream connection never
//! wake each other across threads, and taking or giving one back locks
//! nothing. One the upstream closed meanwhile is dropped when found, or by
//! the thread's [`sweep`] within [`SWEEP_EVERY`] when no request comes to
//! find it. The sweeps are also the pool's clock: a connection's age is
//! counted in them, so taking and giving back reads no clock.
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::conn::Conn;
use crate::forward::upstream::Upstream;

/// Idle connections kept per upstream and thread; the oldest beyond this is
/// closed.
const MAX_KEPT: usize = 64;
/// An idle connection is closed by the sweep that finds it idle for this
/// many sweeps, 45–50 s (most servers close keep-alive connections after
/// 60–120 s).
const MAX_IDLE_SWEEPS: u64 = 10;

/// How often each forwarder thread closes the idle connections of its own
/// that their upstream closed or that grew too old: without it, an
/// endpoint that goes quiet would hold them (in CLOSE_WAIT) until its next
/// request.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

thread_local! {
    /// This thread's idle connections, by upstream id, oldest first.
    static IDLE: RefCell<HashMap<u64, Vec<(SocketAddr, Conn)>>> = RefCell::new(HashMap::new());
    /// Sweeps made on this thread so far.
    static SWEEPS: Cell<u64> = const { Cell::new(0) };
}

/// The idle connections of one upstream, on the calling thread.
#[derive(Clone, Copy, Debug)]
pub struct IdlePool {
    upstream: u64,
}

impl IdlePool {
    pub fn of(upstream: &Upstream) -> IdlePool {
        IdlePool {
            upstream: upstream.id,
        }
    }

    /// The most recently used idle connection to `addr` opened on this
    /// thread and still open, if any. Closed ones met on the way are
    /// dropped (too old ones are left to the sweep).
    pub fn take(self, addr: SocketAddr) -> Option<Conn> {
        IDLE.with(|idle| {
            let mut idle = idle.try_borrow_mut().ok()?;
            let idle = idle.get_mut(&self.upstream)?;
            while let Some(at) = idle.iter().rposition(|(a, _)| *a == addr) {
                let (_, mut conn) = idle.remove(at);
                if !conn.is_stale() {
                    return Some(conn);
                }
            }
            None
        })
    }

    /// Keep `conn`, its last response read to the end, for a later request
    /// on this thread (the one whose runtime registered its socket).
    pub fn put(self, addr: SocketAddr, mut conn: Conn) {
        conn.idle_from = SWEEPS.get();
        IDLE.with(|idle| {
            let Ok(mut idle) = idle.try_borrow_mut() else {
                return;
            };
            let idle = idle.entry(self.upstream).or_default();
            if idle.len() >= MAX_KEPT {
                idle.remove(0);
            }
            idle.push((addr, conn));
        })
    }

    /// Whether this pool keeps no connection on this thread.
    #[cfg(test)]
    fn is_empty(self) -> bool {
        IDLE.with_borrow(|idle| idle.get(&self.upstream).is_none_or(Vec::is_empty))
    }
}

/// Close this thread's idle connections that are too old or that their
/// upstream closed, in every pool, and forget the pools left empty.
pub fn sweep() {
    let now = SWEEPS.get() + 1;
    SWEEPS.set(now);
    IDLE.with(|idle| {
        let Ok(mut idle) = idle.try_borrow_mut() else {
            return;
        };
        idle.retain(|_, conns| {
            conns.retain_mut(|(_, conn)| {
                now.saturating_sub(conn.idle_from) < MAX_IDLE_SWEEPS && !conn.is_stale()
            });
            !conns.is_empty()
        });
    });
}

/// [`sweep`] every [`SWEEP_EVERY`] on the thread this runs on, for ever.
pub async fn sweep_forever() {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        sweep();
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
