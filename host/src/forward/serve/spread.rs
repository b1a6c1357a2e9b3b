//! Keeps an endpoint's connections even across the forwarder threads. The
//! kernel's SO_REUSEPORT hash spreads new connections over the threads'
//! sockets at random, so 32 keep-alive clients land 19/13 about as often as
//! 16/16, and the busier thread caps the whole endpoint. A thread that
//! accepts a connection while it serves [`ahead`] or more
//! connections than the least busy thread hands the socket over to that
//! thread, which registers it with its own runtime (as HAProxy moves an
//! accepted connection to its least loaded thread).
//!
//! How far ahead depends on the scheme. An `http://` connection is kept
//! alive by every HTTP/1.1 client and h2c carries all its streams on one,
//! so one connection ahead moves it: 32 clients split 16/16, not 17/15. A
//! `tcp://` connection may be a single exchange: two ahead, so that short
//! connections, which keep every count near zero, are seldom moved.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use tokio::sync::mpsc;

use crate::model::Scheme;

/// How many connections ahead of the least busy thread a thread may be
/// before a connection it accepts moves (see the module's text).
pub fn ahead(scheme: Scheme) -> usize {
    match scheme {
        Scheme::Http => 1,
        Scheme::Tcp => 2,
    }
}

/// An accepted connection on its way to another thread, with its place
/// under the endpoint's connection limit and its count on that thread.
pub struct Handoff<P> {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub permit: P,
    /// Taken by the accepting thread as it chooses the target. Counted
    /// only once the target dequeued it, every connection of a burst
    /// accepted before then would go to the thread that still looked
    /// empty.
    pub live: Live<P>,
}

/// Live connections per thread of one endpoint, and each thread's inbox.
pub struct Spread<P> {
    /// Connections the accepting thread may be ahead of the least busy
    /// one before a new connection moves (at least 1).
    ahead: usize,
    /// A cache line per thread: each thread writes its own count for
    /// every connection and reads the others' only as it accepts.
    live: Vec<CachePadded<AtomicUsize>>,
    inboxes: Vec<mpsc::UnboundedSender<Handoff<P>>>,
}

impl<P> Spread<P> {
    /// For `n` threads: the shared counts and, in thread order, the inbox
    /// each thread's accept loop reads.
    pub fn new(
        n: usize,
        ahead: usize,
    ) -> (Arc<Spread<P>>, Vec<mpsc::UnboundedReceiver<Handoff<P>>>) {
        let (inboxes, receivers) = (0..n).map(|_| mpsc::unbounded_channel()).unzip();
        let live = (0..n)
            .map(|_| CachePadded::new(AtomicUsize::new(0)))
            .collect();
        let ahead = ahead.max(1);
        (
            Arc::new(Spread {
                ahead,
                live,
                inboxes,
            }),
            receivers,
        )
    }

    /// The thread a connection accepted on `shard` should live on.
    fn place(&self, shard: usize) -> usize {
        let count = |i: usize| self.live.get(i).map_or(0, |n| n.load(Ordering::Relaxed));
        let own = count(shard);
        let least = (0..self.live.len()).min_by_key(|&i| count(i));
        match least {
            Some(i) if count(i) + self.ahead <= own => i,
            _ => shard,
        }
    }

    /// An accepted connection on `shard`: handed over to a less busy
    /// thread (`None`), or returned to be served here. Either way it is
    /// counted on its thread from now on.
    pub fn assign(
        self: &Arc<Self>,
        shard: usize,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        permit: P,
    ) -> Option<Handoff<P>> {
        let mut h = Handoff {
            stream,
            peer,
            permit,
            live: self.enter(self.place(shard)),
        };
        if h.live.shard != shard {
            // Handed back only when that thread is stopping: then it is
            // served here after all.
            h = self.hand_over(h.live.shard, h).err()?;
            h.live = self.enter(shard);
        }
        Some(h)
    }

    /// Send `h` to thread `to`; handed back when that thread has stopped.
    fn hand_over(&self, to: usize, h: Handoff<P>) -> Result<(), Handoff<P>> {
        match self.inboxes.get(to) {
            Some(inbox) => inbox.send(h).map_err(|e| e.0),
            None => Err(h),
        }
    }

    /// Count a connection on `shard` until the guard drops: taken when the
    /// thread is chosen, before any hand-over.
    pub fn enter(self: &Arc<Self>, shard: usize) -> Live<P> {
        if let Some(n) = self.live.get(shard) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        Live {
            spread: self.clone(),
            shard,
        }
    }
}

/// One connection counted on its thread.
pub struct Live<P> {
    spread: Arc<Spread<P>>,
    shard: usize,
}

impl<P> Drop for Live<P> {
    fn drop(&mut self) {
        if let Some(n) = self.spread.live.get(self.shard) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "spread_tests.rs"]
mod tests;
