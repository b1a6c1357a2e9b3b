//! The forwarder's worker threads, one per CPU, each with its own
//! single-threaded tokio runtime. Every endpoint has a listening socket per
//! thread (SO_REUSEPORT) and an accept loop on each; a connection lives on
//! the thread that accepted it, with its upstream connection and its tasks, so its
//! packets never wake another thread (as in HAProxy's and nginx's workers).
//! Each thread is pinned to a CPU of its own when they match the process's
//! CPU set one for one ([`affinity`]), and sends the small writes of a turn
//! together at its end ([`held`]).
use std::future::Future;
use std::io;
use std::num::NonZeroUsize;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::affinity;
use crate::forward::io::held;

/// `BINDERY_FORWARD_THREADS` overrides the count (default: the CPUs this
/// process may use, cgroup quota included).
pub const THREADS_ENV: &str = "BINDERY_FORWARD_THREADS";

pub struct Shards {
    handles: Vec<Handle>,
    stop: CancellationToken,
}

impl Shards {
    /// Start the threads; they end when the `Shards` is dropped.
    pub fn start() -> io::Result<Shards> {
        let n = std::env::var(THREADS_ENV)
            .ok()
            .and_then(|v| v.parse::<NonZeroUsize>().ok())
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get);
        let cpus = pinning(n);
        let stop = CancellationToken::new();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.enable_all();
            if let Some(all) = cpus.clone() {
                // The runtime's blocking threads are started by the pinned
                // thread and would inherit its pin.
                builder.on_thread_start(move || {
                    if let Err(e) = affinity::restrict_current(&all) {
                        tracing::warn!(error = %e, "a forwarder's blocking thread stays on its CPU");
                    }
                });
            }
            let rt = builder.build()?;
            handles.push(rt.handle().clone());
            rt.spawn(held::send_forever());
            rt.spawn(super::memory::collect_forever());
            let stop = stop.clone();
            let cpu = cpus.as_ref().and_then(|c| c.get(i).copied());
            std::thread::Builder::new()
                .name(format!("bindery-fwd-{i}"))
                .spawn(move || {
                    if let Some(cpu) = cpu
                        && let Err(e) = affinity::pin_current(cpu)
                    {
                        tracing::warn!(thread = i, cpu, error = %e, "cannot pin the forwarder thread; it runs unpinned");
                    }
                    rt.block_on(stop.cancelled())
                })?;
        }
        Ok(Shards { handles, stop })
    }

    /// Run the `i`th task on the `i`th thread (one task per thread).
    pub fn spawn_each<F>(&self, tasks: impl IntoIterator<Item = F>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        for (h, task) in self.handles.iter().zip(tasks) {
            h.spawn(task);
        }
    }

    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

/// The CPU of each thread, when they are to be pinned (see [`affinity`]).
fn pinning(threads: usize) -> Option<Vec<usize>> {
    let allowed = affinity::allowed()
        .inspect_err(|e| tracing::warn!(error = %e, "cannot read the CPU affinity; forwarder threads run unpinned"))
        .ok()?;
    let env = std::env::var(affinity::PIN_ENV).ok();
    let plan = affinity::plan(threads, &allowed, env.as_deref());
    tracing::info!(threads, cpus = ?allowed, pinned = plan.is_some(), "forwarder threads");
    plan
}

impl Drop for Shards {
    fn drop(&mut self) {
        // Each thread leaves `block_on` and drops its own runtime there:
        // a runtime must not be dropped inside another's async context.
        self.stop.cancel();
    }
}

#[cfg(test)]
#[path = "shards_tests.rs"]
mod tests;
