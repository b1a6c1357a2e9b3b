//! Idle HTTP/1.1 connections to one upstream, reused across requests (and
//! across generations: the pool belongs to the upstream, not to a route).
//! A connection comes back when its response has been read to the end, to
//! the pool of the thread it was opened on, whose runtime watches its
//! socket: a request and its upstream connection never wake each other
//! across threads, and taking or giving one back locks nothing. One the
//! upstream closed meanwhile is dropped when found, or by the thread's
//! [`sweep`] within [`SWEEP_EVERY`] when no request comes to find it. The
//! sweeps are also the pool's clock: a connection's age is counted in them,
//! so taking and giving back reads no clock.
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use thread_local::ThreadLocal;

use super::client::Conn;

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

type Idle = ThreadLocal<RefCell<Vec<(SocketAddr, Conn)>>>;

#[derive(Default)]
pub struct IdlePool {
    idle: Arc<Idle>,
}

thread_local! {
    /// The pools this thread has kept a connection in, for [`sweep`].
    static KEPT_IN: RefCell<Vec<Weak<Idle>>> = const { RefCell::new(Vec::new()) };
    /// Sweeps made on this thread so far.
    static SWEEPS: Cell<u64> = const { Cell::new(0) };
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdlePool")
    }
}

impl IdlePool {
    /// The most recently used idle connection to `addr` opened on this
    /// thread and still open, if any. Closed ones met on the way are
    /// dropped (too old ones are left to the sweep).
    pub fn take(&self, addr: SocketAddr) -> Option<Conn> {
        let idle = self.idle.get()?;
        let mut idle = idle.try_borrow_mut().ok()?;
        while let Some(at) = idle.iter().rposition(|(a, _)| *a == addr) {
            let (_, mut conn) = idle.remove(at);
            if !conn.is_stale() {
                return Some(conn);
            }
        }
        None
    }

    /// Keep `conn`, its last response read to the end, for a later request
    /// on this thread (the one whose runtime registered its socket).
    pub fn put(&self, addr: SocketAddr, mut conn: Conn) {
        conn.idle_from = SWEEPS.get();
        let idle = match self.idle.get() {
            Some(idle) => idle,
            None => {
                KEPT_IN.with_borrow_mut(|pools| pools.push(Arc::downgrade(&self.idle)));
                self.idle.get_or_default()
            }
        };
        let Ok(mut idle) = idle.try_borrow_mut() else {
            return;
        };
        if idle.len() >= MAX_KEPT {
            idle.remove(0);
        }
        idle.push((addr, conn));
    }
}

/// Close this thread's idle connections that are too old or that their
/// upstream closed, in every pool it kept one in, and forget the pools
/// that are gone.
pub fn sweep() {
    let now = SWEEPS.get() + 1;
    SWEEPS.set(now);
    KEPT_IN.with_borrow_mut(|pools| {
        pools.retain(|pool| {
            let Some(pool) = pool.upgrade() else {
                return false;
            };
            if let Some(idle) = pool.get()
                && let Ok(mut idle) = idle.try_borrow_mut()
            {
                idle.retain_mut(|(_, conn)| {
                    now.saturating_sub(conn.idle_from) < MAX_IDLE_SWEEPS && !conn.is_stale()
                });
            }
            true
        })
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
