//! The watch caches a pass reads, each kept by a kube-runtime reflector:
//! `BoundEndpoint`s of the catalog namespace, this account's Services
//! (label selector, every namespace) and Namespaces. Every event notifies
//! the trigger; during an outage the caches keep their last state and the
//! watchers retry with backoff, re-listing when the apiserver is back.
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::ReconcileError;
use super::owned;
use super::retry::Retry;
use crate::catalog::BoundEndpoint;

/// The caches.
#[derive(Clone)]
pub struct Stores {
    pub bound: Store<BoundEndpoint>,
    pub services: Store<Service>,
    pub namespaces: Store<Namespace>,
}

impl Stores {
    /// Start the three watchers; each runs until `stop`.
    pub fn start(
        client: &kube::Client,
        catalog_namespace: &str,
        account: &str,
        trigger: Arc<Notify>,
        stop: &CancellationToken,
    ) -> Stores {
        let labels = watcher::Config::default().labels(&owned::selector(account));
        Stores {
            bound: spawn(
                "BoundEndpoints",
                Api::namespaced(client.clone(), catalog_namespace),
                watcher::Config::default(),
                &trigger,
                stop,
            ),
            services: spawn("Services", Api::all(client.clone()), labels, &trigger, stop),
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
        self.bound.wait_until_ready().await.is_ok()
            && self.services.wait_until_ready().await.is_ok()
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

fn spawn<K>(
    what: &'static str,
    api: Api<K>,
    config: watcher::Config,
    trigger: &Arc<Notify>,
    stop: &CancellationToken,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).backoff(Retry::default()));
    let trigger = trigger.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        let events = stream.for_each(|event| {
            match event {
                Ok(_) => trigger.notify_one(),
                Err(source) => {
                    let e = ReconcileError::Watch { what, source };
                    tracing::warn!(error = %e, "watch interrupted");
                }
            }
            futures::future::ready(())
        });
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = events => {}
        }
    });
    reader
}
