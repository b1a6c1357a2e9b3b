//! `maxConnections`: how many connections of one endpoint are served at
//! once, over all forwarder threads. A connection over the limit is closed
//! as it is accepted.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `maxConnections` of one endpoint: connections in flight and the limit,
/// which a reload may change at any time. Lowering it cuts nothing: the
/// connections already served stay, and new ones are refused until the
/// count falls under it.
#[derive(Debug)]
pub struct Limit {
    max: AtomicUsize,
    active: AtomicUsize,
}

impl Limit {
    pub fn new(max: usize) -> Limit {
        Limit {
            max: AtomicUsize::new(max.max(1)),
            active: AtomicUsize::new(0),
        }
    }

    pub fn set_max(&self, max: usize) {
        self.max.store(max.max(1), Ordering::Relaxed);
    }

    /// A slot until the guard drops, or `None` at the limit.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        let max = self.max.load(Ordering::Relaxed);
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }
}

/// One connection's place under its endpoint's [`Limit`].
pub struct Slot(Arc<Limit>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[path = "limit_tests.rs"]
mod tests;
