//! The `BoundEndpoint` objects of one namespace of a hub cluster as a
//! source: one catalog that many member clusters watch. Kept by a
//! reflector like the local objects ([`super::bound`]), with two
//! differences: a hub that cannot be reached is reported as this source's
//! failure (its cache keeps the last good list), and the entries' ids say
//! they came from the hub, so reports and `/v1/endpoints` tell them apart
//! from local objects of the same name.
use std::sync::Arc;

use futures::FutureExt;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::bound::{entries_with, entry_id};
use super::entry::Entry;
use super::source::Source;
use super::spec::BoundEndpoint;
use crate::cluster::reflect::{self, Health};

pub struct HubSource {
    origin: String,
    namespace: String,
    store: Store<BoundEndpoint>,
    health: Health,
}

impl HubSource {
    /// Watch the objects of `namespace` on the hub `client` talks to, until
    /// `stop`; every change notifies `trigger`. Must run inside the tokio
    /// runtime.
    pub fn start(
        client: &kube::Client,
        namespace: &str,
        trigger: &Arc<Notify>,
        stop: &CancellationToken,
    ) -> HubSource {
        let (store, health) = reflect::spawn_with_health(
            "hub BoundEndpoints",
            Api::namespaced(client.clone(), namespace),
            watcher::Config::default(),
            trigger,
            stop,
        );
        HubSource {
            origin: format!("hub BoundEndpoints of namespace {namespace}"),
            namespace: namespace.to_string(),
            store,
            health,
        }
    }

    /// Wait until the objects have been listed once.
    pub async fn ready(&self) -> bool {
        self.store.wait_until_ready().await.is_ok()
    }

    /// The hub namespace watched.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The objects as the cache holds them, for their statuses.
    pub fn objects(&self) -> Vec<Arc<BoundEndpoint>> {
        self.store.state()
    }
}

/// The id of a hub object's entry: `hub BoundEndpoint <ns>/<name>`.
pub fn hub_entry_id(object: &BoundEndpoint) -> String {
    format!("hub {}", entry_id(object))
}

impl Source for HubSource {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn entries(&self) -> Vec<Entry> {
        entries_with(&self.store.state(), hub_entry_id)
    }

    fn failure(&self) -> Option<String> {
        self.health
            .failure()
            .map(|e| format!("{e}; the hub's last good catalog stays in effect"))
    }

    fn synced(&self) -> bool {
        self.store
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok())
    }
}
