//! The reconciler's Prometheus families, in the style of `crate::metrics`.
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters of the reconciler; clones share their values.
#[derive(Clone)]
pub struct ReconcileMetrics {
    /// Whole-catalog passes started.
    pub reconciles: Counter,
    /// Passes that ended with at least one error.
    pub failed: Counter,
    /// Server-side applies of Services, EndpointSlices and BoundEndpoint
    /// statuses.
    pub applies: Counter,
    /// Orphaned Services and EndpointSlices deleted.
    pub deletes: Counter,
    /// Services and EndpointSlices found that Bindery does not own.
    pub conflicts: Counter,
    /// Duration of a whole pass.
    pub duration: Histogram,
}

impl Default for ReconcileMetrics {
    fn default() -> Self {
        ReconcileMetrics {
            reconciles: Counter::default(),
            failed: Counter::default(),
            applies: Counter::default(),
            deletes: Counter::default(),
            conflicts: Counter::default(),
            // 1 ms to about 65 s, by factors of 4.
            duration: Histogram::new(exponential_buckets(0.001, 4.0, 9)),
        }
    }
}

impl ReconcileMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("bindery_reconcile");
        r.register("passes", "Whole-catalog passes", self.reconciles.clone());
        r.register(
            "failed",
            "Passes with at least one error (retried on the next trigger or resync)",
            self.failed.clone(),
        );
        r.register(
            "applies",
            "Server-side applies made (Services, EndpointSlices and statuses); a no-op pass makes none",
            self.applies.clone(),
        );
        r.register(
            "deletes",
            "Orphaned Services and EndpointSlices deleted",
            self.deletes.clone(),
        );
        r.register(
            "conflicts",
            "Services and EndpointSlices found in the way on a pass that Bindery does not own (left untouched)",
            self.conflicts.clone(),
        );
        r.register(
            "pass_seconds",
            "Duration of one whole-catalog pass",
            self.duration.clone(),
        );
    }
}
