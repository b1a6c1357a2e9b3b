//! The reconciler's Prometheus families, in the style of `crate::metrics`.
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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
    /// Services whose deletion the guard holds now.
    pub deletions_held: Gauge,
    /// 1 while this member holds its cluster name on the hub (leader only).
    pub hub_member: Gauge,
    /// This member's status entries written on the hub.
    pub hub_writes: Counter,
    /// Per source: 1 when its latest read succeeded, 0 while it fails (its
    /// last good entries stay in effect).
    pub source_up: Family<Vec<(String, String)>, Gauge>,
    /// Per source: the entries it holds.
    pub source_entries: Family<Vec<(String, String)>, Gauge>,
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
            deletions_held: Gauge::default(),
            hub_member: Gauge::default(),
            hub_writes: Counter::default(),
            source_up: Family::default(),
            source_entries: Family::default(),
        }
    }
}

impl ReconcileMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let s = registry.sub_registry_with_prefix("bindery_source");
        s.register(
            "up",
            "1 when the source's latest read succeeded, 0 while it fails (its last good catalog stays in effect)",
            self.source_up.clone(),
        );
        s.register(
            "entries",
            "Catalog entries the source holds",
            self.source_entries.clone(),
        );
        let h = registry.sub_registry_with_prefix("bindery_hub");
        h.register(
            "member",
            "1 while this member's leader holds its cluster name on the hub",
            self.hub_member.clone(),
        );
        h.register(
            "status_writes",
            "This member's status entries written on the hub",
            self.hub_writes.clone(),
        );
        let r = registry.sub_registry_with_prefix("bindery_reconcile");
        r.register(
            "deletions_held",
            "Services whose deletion the deletion guard holds until it is confirmed or the hold time passes",
            self.deletions_held.clone(),
        );
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
