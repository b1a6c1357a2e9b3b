//! What a pass needs besides its inputs: the client, where it works, the
//! leadership, Events, metrics, the deletion guard, the hub (for a member),
//! and what the previous pass allocated and projected.
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ObjectReference;

use super::events::Events;
use super::guard::{Guard, GuardSettings};
use super::lease::Leadership;
use super::member::Hub;
use super::metrics::ReconcileMetrics;
use crate::pipeline::{Allocation, Projection};

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
    /// The last pass's projections (and those still served after they left
    /// the catalog), by id: what to serve while their Services remain.
    pub(crate) projected: Mutex<BTreeMap<String, Projection>>,
    pub guard: Guard,
    /// For a member of a hub: where its state goes.
    pub hub: Option<Hub>,
    /// What Events about the process itself regard (a ConfigMap of the
    /// policy, else this pod).
    pub regarding: Option<ObjectReference>,
    /// URLs the last pass confirmed: the forwarder has served them since.
    served: Mutex<HashSet<String>>,
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
            projected: Mutex::new(BTreeMap::new()),
            guard: Guard::new(GuardSettings::default()),
            hub: None,
            regarding: None,
            served: Mutex::new(HashSet::new()),
        }
    }

    pub fn with_guard(mut self, settings: GuardSettings) -> Context {
        self.guard = Guard::new(settings);
        self
    }

    pub fn with_hub(mut self, hub: Hub) -> Context {
        self.hub = Some(hub);
        self
    }

    pub fn with_regarding(mut self, regarding: Option<ObjectReference>) -> Context {
        self.regarding = regarding;
        self
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

    /// URLs of `confirmed` that the last pass confirmed too: the forwarder
    /// of this replica serves them (it applies what a pass confirms right
    /// after the pass).
    pub(crate) fn served_before(&self, confirmed: &[Projection]) -> HashSet<String> {
        let before = self.served.lock().unwrap_or_else(|p| p.into_inner());
        confirmed
            .iter()
            .map(|p| p.key.url.to_string())
            .filter(|u| before.contains(u))
            .collect()
    }

    pub(crate) fn remember_served(&self, confirmed: &[Projection]) {
        *self.served.lock().unwrap_or_else(|p| p.into_inner()) =
            confirmed.iter().map(|p| p.key.url.to_string()).collect();
    }
}

impl Context {
    /// Projections of earlier passes that this pass's `outcome` no longer
    /// has but whose upstream Service still targets their port: the
    /// forwarder keeps serving them until the Service goes (deleted, or
    /// its deletion held).
    pub(crate) fn lingering(
        &self,
        current: &[Projection],
        in_cluster: &Allocation,
    ) -> Vec<Projection> {
        let now: std::collections::BTreeSet<String> = current.iter().map(|p| p.key.id()).collect();
        let projected = self.projected.lock().unwrap_or_else(|p| p.into_inner());
        projected
            .iter()
            .filter(|(id, p)| {
                !now.contains(*id)
                    && p.port()
                        .is_some_and(|port| in_cluster.get(*id) == Some(&port))
            })
            .map(|(_, p)| p.clone())
            .collect()
    }

    pub(crate) fn remember_projected<'a>(&self, projections: impl Iterator<Item = &'a Projection>) {
        *self.projected.lock().unwrap_or_else(|p| p.into_inner()) =
            projections.map(|p| (p.key.id(), p.clone())).collect();
    }
}
