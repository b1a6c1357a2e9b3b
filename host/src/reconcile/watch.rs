//! The cluster's side of a pass, each kept by a reflector
//! ([`crate::cluster::reflect`]): this account's Services and
//! EndpointSlices (label selector, every namespace) and the Namespaces.
//! Every event notifies the trigger.
use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::owned;
use crate::cluster::reflect::spawn;

/// The caches.
#[derive(Clone)]
pub struct Stores {
    pub services: Store<Service>,
    pub slices: Store<EndpointSlice>,
    pub namespaces: Store<Namespace>,
}

impl Stores {
    /// Start the watchers; each runs until `stop`.
    pub fn start(
        client: &kube::Client,
        account: &str,
        trigger: Arc<Notify>,
        stop: &CancellationToken,
    ) -> Stores {
        let labels = watcher::Config::default().labels(&owned::selector(account));
        Stores {
            services: spawn("Services", Api::all(client.clone()), labels, &trigger, stop),
            slices: spawn(
                "EndpointSlices",
                Api::all(client.clone()),
                watcher::Config::default().labels(&owned::slice_selector(account)),
                &trigger,
                stop,
            ),
            namespaces: spawn(
                "Namespaces",
                Api::all(client.clone()),
                watcher::Config::default(),
                &trigger,
                stop,
            ),
        }
    }

    /// Wait until every cache has listed once: a pass on a partial view
    /// would take what it cannot see for orphans.
    pub async fn ready(&self) -> bool {
        self.services.wait_until_ready().await.is_ok()
            && self.slices.wait_until_ready().await.is_ok()
            && self.namespaces.wait_until_ready().await.is_ok()
    }

    pub fn namespace_names(&self) -> BTreeSet<String> {
        self.namespaces
            .state()
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .filter_map(|n| n.metadata.name.clone())
            .collect()
    }
}
