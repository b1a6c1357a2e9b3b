//! The `BoundEndpoint` objects of one namespace as a source, kept by a
//! reflector: during an apiserver outage the cache keeps its last state.
use std::sync::Arc;

use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::entry::Entry;
use super::source::Source;
use super::spec::BoundEndpoint;
use crate::cluster::reflect;

pub struct BoundSource {
    origin: String,
    store: Store<BoundEndpoint>,
}

impl BoundSource {
    /// Watch the objects of `namespace` until `stop`; every change notifies
    /// `trigger`. Must run inside the tokio runtime.
    pub fn start(
        client: &kube::Client,
        namespace: &str,
        trigger: &Arc<Notify>,
        stop: &CancellationToken,
    ) -> BoundSource {
        let store = reflect::spawn(
            "BoundEndpoints",
            Api::namespaced(client.clone(), namespace),
            watcher::Config::default(),
            trigger,
            stop,
        );
        BoundSource {
            origin: format!("BoundEndpoints of namespace {namespace}"),
            store,
        }
    }

    /// Wait until the objects have been listed once: a pass on a partial
    /// view would take what it cannot see for orphans.
    pub async fn ready(&self) -> bool {
        self.store.wait_until_ready().await.is_ok()
    }

    /// The objects as the cache holds them, for their statuses.
    pub fn objects(&self) -> Vec<Arc<BoundEndpoint>> {
        self.store.state()
    }
}

/// The id of a `BoundEndpoint`'s entry, as reports and Events name it.
pub fn entry_id(object: &BoundEndpoint) -> String {
    format!(
        "BoundEndpoint {}/{}",
        object.metadata.namespace.as_deref().unwrap_or_default(),
        object.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The objects' entries, sorted by namespace and name.
pub fn entries(objects: &[Arc<BoundEndpoint>]) -> Vec<Entry> {
    entries_with(objects, entry_id)
}

/// The objects' entries with ids made by `id`, sorted by id.
pub(crate) fn entries_with(
    objects: &[Arc<BoundEndpoint>],
    id: impl Fn(&BoundEndpoint) -> String,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = objects
        .iter()
        .map(|o| Entry {
            id: id(o),
            spec: Ok(o.spec.clone()),
        })
        .collect();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    entries
}

impl Source for BoundSource {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn entries(&self) -> Vec<Entry> {
        entries(&self.store.state())
    }

    /// The reflector retries on its own and logs why; its cache is the
    /// last good read.
    fn failure(&self) -> Option<String> {
        None
    }
}
