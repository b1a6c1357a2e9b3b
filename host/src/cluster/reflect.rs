//! A watch cache kept by a kube-runtime reflector. Every event notifies the
//! trigger; during an outage the cache keeps its last state and the watcher
//! retries with backoff ([`Retry`]), re-listing when the apiserver is back.
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::retry::Retry;

/// A watch that failed; it is retried.
#[derive(Debug, thiserror::Error)]
#[error(
    "watching {what} failed: {source}; retrying (is the CRD installed: `bindery crd | kubectl apply -f -`? may the operator list and watch {what}?)"
)]
pub struct WatchFailed {
    pub what: &'static str,
    pub source: watcher::Error,
}

/// Start a reflector over `api` that runs until `stop`; `what` names the
/// objects in its log lines.
pub fn spawn<K>(
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
                    let e = WatchFailed { what, source };
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
