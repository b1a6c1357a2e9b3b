//! What one pass reads: the merged catalog, the cluster's Services and
//! Namespaces as the watch caches hold them, and the policy generation in
//! effect. A pass reads nothing else from the cluster but the Services it
//! is about to create.
use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;

use crate::catalog::{BoundEndpoint, Entry};
use crate::live::PolicyGeneration;

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
    /// Namespaces that exist.
    pub namespaces: BTreeSet<String>,
    pub policy: Arc<PolicyGeneration>,
}
