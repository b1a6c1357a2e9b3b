//! What a pass needs besides its inputs: the client, where it works, the
//! leadership, Events, metrics, and what the previous pass allocated.
use std::sync::{Arc, Mutex};

use super::events::Events;
use super::lease::Leadership;
use super::metrics::ReconcileMetrics;
use crate::pipeline::Allocation;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "bindery";

/// Shared by every pass of one operator process.
pub struct Context {
    pub client: kube::Client,
    /// Where upstream Services (and the Lease) live.
    pub operator_namespace: String,
    /// The account this installation serves; fixed for the process.
    pub account: String,
    pub leader: Arc<Leadership>,
    pub events: Events,
    pub metrics: ReconcileMetrics,
    /// Requests in flight at once when applying or deleting.
    pub concurrency: usize,
    /// Ports the last pass allocated, kept until the Services show them.
    pub(crate) allocated: Mutex<Allocation>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        operator_namespace: &str,
        account: &str,
        leader: Arc<Leadership>,
        metrics: ReconcileMetrics,
    ) -> Context {
        Context {
            events: Events::new(client.clone(), leader.identity()),
            client,
            operator_namespace: operator_namespace.to_string(),
            account: account.to_string(),
            leader,
            metrics,
            concurrency: 16,
            allocated: Mutex::new(Allocation::new()),
        }
    }

    /// The ports in effect: the Services', then the last pass's for URLs
    /// the watch cache does not show yet, unless the Services hold that
    /// port. What the Services say always wins, so a port in use never
    /// moves.
    pub(crate) fn previous(&self, from_services: &Allocation) -> Allocation {
        let mut out = from_services.clone();
        let used: std::collections::BTreeSet<u16> = from_services.values().copied().collect();
        let mine = self.allocated.lock().unwrap_or_else(|p| p.into_inner());
        for (id, port) in mine.iter() {
            if !used.contains(port) {
                out.entry(id.clone()).or_insert(*port);
            }
        }
        out
    }

    pub(crate) fn remember(&self, allocation: Allocation) {
        *self.allocated.lock().unwrap_or_else(|p| p.into_inner()) = allocation;
    }
}
