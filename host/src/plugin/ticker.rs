//! The epoch ticker: advances the engine's epoch every [`TICK`], which is
//! what stops a guest call at its deadline, but only while calls are being
//! made. Every tick wakes a thread that preempts whatever runs on its CPU;
//! a forwarder carrying long-lived tcp connections (one router call each)
//! has no use for 200 wake-ups a second.
//!
//! A call marks the ticker busy (one shared store per tick at most, a load
//! otherwise). The ticker parks once no call has started for longer than the
//! longest deadline of any plugin: by then every call that started has
//! returned or been stopped. A call that finds it parked wakes it.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::Engine;

/// Granularity of deadlines: a call is stopped between its `timeoutMs`
/// and one tick later (the default deadline is 100 ms); a finer tick costs
/// the forwarder's threads measurably.
pub const TICK: Duration = Duration::from_millis(5);

/// Advances the engine's epoch until the runtime and every plugin loaded
/// from it are dropped.
pub struct Ticker {
    shared: Arc<Shared>,
    thread: Option<Thread>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// A call started since the ticker last looked.
    busy: AtomicBool,
    /// The ticker is parked, or about to.
    parked: AtomicBool,
    /// Ticks without a call after which no call can still be running.
    longest_deadline: AtomicU64,
}

impl Ticker {
    pub fn start(engine: Engine) -> Ticker {
        let shared = Arc::new(Shared::default());
        let spawned = std::thread::Builder::new()
            .name("bindery-epoch".into())
            .spawn({
                let shared = shared.clone();
                move || shared.run(&engine)
            });
        let thread = match spawned {
            Ok(handle) => Some(handle.thread().clone()),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the epoch ticker: plugin deadlines are not enforced");
                None
            }
        };
        Ticker { shared, thread }
    }

    /// A plugin whose calls are stopped after `ticks` ticks is loaded.
    pub fn cover(&self, ticks: u64) {
        self.shared
            .longest_deadline
            .fetch_max(ticks, Ordering::Relaxed);
    }

    /// A call is about to start: the epoch must advance until it ends.
    pub fn calling(&self) {
        let s = &self.shared;
        if !s.busy.load(Ordering::Relaxed) {
            s.busy.store(true, Ordering::SeqCst);
        }
        // Pairs with `run`: either this sees `parked`, or the ticker sees
        // `busy` before it parks.
        if s.parked.load(Ordering::SeqCst)
            && s.parked.swap(false, Ordering::SeqCst)
            && let Some(t) = &self.thread
        {
            t.unpark();
        }
    }
}

impl Shared {
    fn run(&self, engine: &Engine) {
        let mut quiet = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            engine.increment_epoch();
            if self.busy.swap(false, Ordering::Relaxed) {
                quiet = 0;
                continue;
            }
            quiet += 1;
            if quiet <= self.longest_deadline.load(Ordering::Relaxed) {
                continue;
            }
            self.parked.store(true, Ordering::SeqCst);
            if self.busy.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst) {
                self.parked.store(false, Ordering::SeqCst);
                continue;
            }
            // Woken by a call (or by drop); a spurious return just ticks.
            std::thread::park();
            self.parked.store(false, Ordering::SeqCst);
            quiet = 0;
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = &self.thread {
            t.unpark();
        }
    }
}

#[cfg(test)]
#[path = "ticker_tests.rs"]
mod tests;
