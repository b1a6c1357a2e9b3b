//! What one pass reads: the merged catalog, the cluster's Services,
//! EndpointSlices and Namespaces as the watch caches hold them, and the
//! policy generation in effect. A pass reads nothing else from the cluster
//! but the objects it is about to create.
use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::catalog::{BoundEndpoint, Entry};
use crate::live::PolicyGeneration;
use crate::pipeline::{Projection, Reach};

pub struct Observed {
    /// The merged catalog of every source.
    pub entries: Vec<Entry>,
    /// The `BoundEndpoint` objects among the sources, whose statuses the
    /// leader writes.
    pub bound: Vec<Arc<BoundEndpoint>>,
    /// A member's hub objects, whose entries for this member the leader
    /// writes on the hub (`Context::hub`).
    pub hub: Vec<Arc<BoundEndpoint>>,
    /// Whether the hub answers now: while it does not, no hub status is
    /// attempted (they are written once it is back).
    pub hub_reachable: bool,
    /// Sources not read yet since the process started: the deletion guard
    /// holds every deletion until they are.
    pub unsynced: Vec<String>,
    /// This account's Services, every namespace.
    pub services: Vec<Arc<Service>>,
    /// This account's EndpointSlices (direct mode), every namespace.
    pub slices: Vec<Arc<EndpointSlice>>,
    /// Namespaces that exist.
    pub namespaces: BTreeSet<String>,
    pub policy: Arc<PolicyGeneration>,
}

/// The upstreams of direct projections as this process knows them: the
/// process implements it with the forwarder's prober and resolver.
#[allow(
    async_fn_in_trait,
    reason = "a pass runs on one task: its futures need not be Send"
)]
pub trait Upstreams {
    /// Resolve and probe exactly the upstreams of `direct` from now on
    /// (none: stop), and say what is known of them now. `live` holds the
    /// slices the cluster shows: an address seen for the first time starts
    /// as ready as they list it, so a new Lease holder does not list an
    /// upstream its predecessor found down.
    async fn track(&self, direct: &[Projection], live: &[Arc<EndpointSlice>]) -> Reach;
}
