//! The running process's view of the world: the policy generation in
//! effect and what the last pass made of the catalog under it, swapped
//! whole; a failed reload leaves it in place and is recorded.
//!
//! - [`reload`]: the policy and its plugins, loaded as one generation and
//!   loaded again when their files change.
pub mod reload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use reload::{PolicyGeneration, PolicyReloader};

use crate::pipeline::Outcome;

/// A policy generation and the outcome of the latest pass under it.
pub struct Snapshot {
    pub policy: Arc<PolicyGeneration>,
    pub outcome: Outcome,
    pub passed_at: SystemTime,
}

impl Snapshot {
    pub fn generation(&self) -> u64 {
        self.policy.generation
    }
}

/// Why the latest reload did not take effect.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Failure {
    pub at_unix: u64,
    pub errors: Vec<String>,
}

#[derive(Clone, Default)]
pub struct ReloadMetrics {
    pub reloads: Counter,
    pub failures: Counter,
    pub generation: Gauge,
}

impl ReloadMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("bindery_reload");
        r.register(
            "succeeded",
            "Reloads that installed a new generation",
            self.reloads.clone(),
        );
        r.register(
            "failed",
            "Reloads rejected; the previous generation stayed",
            self.failures.clone(),
        );
        r.register(
            "generation",
            "Generation in effect",
            self.generation.clone(),
        );
    }
}

#[derive(Default)]
pub struct Live {
    current: RwLock<Option<Arc<Snapshot>>>,
    failure: Mutex<Option<Failure>>,
    next: AtomicU64,
    pub metrics: ReloadMetrics,
}

impl Live {
    pub fn new(metrics: ReloadMetrics) -> Live {
        Live {
            metrics,
            ..Live::default()
        }
    }

    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The number the next generation will carry.
    pub fn next_generation(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn install(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.metrics.reloads.inc();
        self.metrics.generation.set(snapshot.generation() as i64);
        self.publish(snapshot)
    }

    /// Replace the snapshot without counting a reload: every pass publishes
    /// its outcome under the policy generation in effect.
    pub fn publish(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(snapshot.clone());
        snapshot
    }

    /// A reload was refused: counted, and kept until [`clear_failure`].
    ///
    /// [`clear_failure`]: Self::clear_failure
    pub fn failed(&self, errors: Vec<String>) {
        self.metrics.failures.inc();
        let at_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(Failure { at_unix, errors });
    }

    /// Every refusal is over.
    pub fn clear_failure(&self) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn last_failure(&self) -> Option<Failure> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
