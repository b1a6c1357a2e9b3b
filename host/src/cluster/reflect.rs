//! A watch cache kept by a kube-runtime reflector. Every event notifies the
//! trigger; during an outage the cache keeps its last state and the watcher
//! retries with backoff ([`Retry`]), re-listing when the apiserver is back.
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

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

/// Whether a watch is failing now: the error of its latest attempt, until
/// an event comes through again. Clones share it.
#[derive(Clone, Default)]
pub struct Health(Arc<Mutex<Option<String>>>);

impl Health {
    pub fn failure(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Set the failure; true when the watch was not failing before.
    fn set(&self, failure: Option<String>) -> bool {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let news = now.is_none() && failure.is_some();
        *now = failure;
        news
    }
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
    spawn_with_health(what, api, config, trigger, stop).0
}

/// [`spawn`], and the watch's [`Health`]: a change of it notifies the
/// trigger too, so that a pass reports the failure or its end.
pub fn spawn_with_health<K>(
    what: &'static str,
    api: Api<K>,
    config: watcher::Config,
    trigger: &Arc<Notify>,
    stop: &CancellationToken,
) -> (Store<K>, Health)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).backoff(Retry::default()));
    let trigger = trigger.clone();
    let stop = stop.clone();
    let health = Health::default();
    let state = health.clone();
    tokio::spawn(async move {
        let events = stream.for_each(|event| {
            match event {
                Ok(_) => {
                    if state.failure().is_some() {
                        tracing::info!(what, "watch resumed");
                        state.set(None);
                    }
                    trigger.notify_one();
                }
                Err(source) => {
                    let e = WatchFailed { what, source };
                    tracing::warn!(error = %e, "watch interrupted");
                    if state.set(Some(e.to_string())) {
                        trigger.notify_one();
                    }
                }
            }
            futures::future::ready(())
        });
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = events => {}
        }
    });
    (reader, health)
}
