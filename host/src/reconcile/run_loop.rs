//! The pass loop of a replica: a pass after every burst of watch events,
//! file change, leadership gain, and at least every resync period. Each
//! pass's outcome is published for the admin server and its confirmed
//! projections handed to the forwarder.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::inputs::Inputs;
use super::pass::reconcile;
use super::watch::Stores;
use super::world::World;
use crate::forward::Forwarder;
use crate::live::{Live, Snapshot};

/// Quiet period that gathers a burst of watch events into one pass.
const GATHER: Duration = Duration::from_millis(100);
/// A steady stream of events still gets a pass this often.
const GATHER_AT_MOST: Duration = Duration::from_secs(1);

#[allow(clippy::too_many_arguments)]
pub async fn passes(
    ctx: &Context,
    stores: &Stores,
    inputs: &mut Inputs,
    forwarder: &Arc<Forwarder>,
    live: &Live,
    trigger: &Notify,
    resync: Duration,
    stop: &CancellationToken,
) {
    let mut installed = None;
    let mut watching = true;
    loop {
        let world = World {
            bound: stores.bound.state(),
            file: inputs.file.clone(),
            services: stores.services.state(),
            namespaces: stores.namespace_names(),
            policy: inputs.policy.clone(),
        };
        let pass = reconcile(ctx, &world).await;
        for e in &pass.errors {
            tracing::warn!(error = %e, "pass error; retried on the next pass");
        }
        let policy = &world.policy;
        let settings = Arc::new(policy.loaded.policy.forwarding.clone());
        for r in forwarder.apply(
            &pass.confirmed,
            &policy.plugins.router,
            &settings,
            policy.generation,
        ) {
            if let Err(e) = r {
                tracing::error!(error = %e, "endpoint not served");
            }
        }
        let snapshot = Snapshot {
            generation: policy.generation,
            policy: policy.loaded.clone(),
            plugins: policy.plugins.clone(),
            outcome: pass.outcome,
            loaded_at: SystemTime::now(),
        };
        if installed == Some(policy.generation) {
            live.publish(snapshot);
        } else {
            live.install(snapshot);
            installed = Some(policy.generation);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            // `first` is cancel-safe: a resync or watch event winning the
            // select never loses a file change.
            change = inputs.changes.first(), if watching => match inputs.changes.settle().await.and(change) {
                Some(()) => inputs.reload(ctx).await,
                None => {
                    tracing::warn!("file watch ended; the policy and catalog file are no longer reloaded");
                    watching = false;
                }
            },
            _ = trigger.notified() => {}
            _ = tokio::time::sleep(resync) => {}
        }
        // Gather the rest of a burst, for a bounded time.
        let deadline = tokio::time::Instant::now() + GATHER_AT_MOST;
        while tokio::time::Instant::now() < deadline
            && tokio::time::timeout(GATHER, trigger.notified())
                .await
                .is_ok()
        {}
    }
}
