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
    /// This account's Services, every namespace.
    pub services: Vec<Arc<Service>>,
    /// Namespaces that exist.
    pub namespaces: BTreeSet<String>,
    pub policy: Arc<PolicyGeneration>,
}
