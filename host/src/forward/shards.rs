//! The forwarder's worker threads, one per CPU, each with its own
//! single-threaded tokio runtime. Every endpoint has a listening socket per
//! thread (SO_REUSEPORT) and an accept loop on each; a connection lives on
//! the thread that accepted it, with its upstream connection and its tasks, so its
//! packets never wake another thread (as in HAProxy's and nginx's workers).
use std::future::Future;
use std::io;
use std::num::NonZeroUsize;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

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
        let stop = CancellationToken::new();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(rt.handle().clone());
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("bindery-fwd-{i}"))
                .spawn(move || rt.block_on(stop.cancelled()))?;
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

impl Drop for Shards {
    fn drop(&mut self) {
        // Each thread leaves `block_on` and drops its own runtime there:
        // a runtime must not be dropped inside another's async context.
        self.stop.cancel();
    }
}
