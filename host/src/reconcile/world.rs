//! The inputs of one pass: what the watch caches and the files hold now,
//! and the policy generation in effect.
use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;

use crate::catalog::{BoundEndpoint, Entry};
use crate::plugin::Generation;
use crate::policy::LoadedPolicy;

/// A policy with its plugins loaded, numbered in load order.
#[derive(Clone)]
pub struct PolicyGeneration {
    pub generation: u64,
    pub loaded: LoadedPolicy,
    pub plugins: Generation,
}

/// Everything a pass reads; it reads nothing else from the cluster but the
/// Services it is about to create.
pub struct World {
    /// `BoundEndpoint` objects of the catalog namespace.
    pub bound: Vec<Arc<BoundEndpoint>>,
    /// Entries of `--catalog FILE` (the last that parsed).
    pub file: Vec<Entry>,
    /// This account's Services, every namespace.
    pub services: Vec<Arc<Service>>,
    /// Namespaces that exist.
    pub namespaces: BTreeSet<String>,
    pub policy: Arc<PolicyGeneration>,
}

/// The id of a `BoundEndpoint`'s entry, as reports and Events name it.
pub fn entry_id(object: &BoundEndpoint) -> String {
    format!(
        "BoundEndpoint {}/{}",
        object.metadata.namespace.as_deref().unwrap_or_default(),
        object.metadata.name.as_deref().unwrap_or_default()
    )
}

impl World {
    /// The catalog: objects first (sorted by namespace and name), then the
    /// file's entries.
    pub fn entries(&self) -> Vec<Entry> {
        let mut objects: Vec<&Arc<BoundEndpoint>> = self.bound.iter().collect();
        objects.sort_by_key(|o| entry_id(o));
        let mut out: Vec<Entry> = objects
            .into_iter()
            .map(|o| Entry {
                id: entry_id(o),
                spec: Ok(o.spec.clone()),
            })
            .collect();
        out.extend(self.file.iter().cloned());
        out
    }
}
