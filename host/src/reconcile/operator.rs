//! `bindery run`: the watches, the Lease, the pass loop, the forwarder and
//! the admin server of one operator replica, stopped by a token.
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::inputs::Inputs;
use super::lease::Leadership;
use super::metrics::ReconcileMetrics;
pub use super::options::{Options, RunError};
use super::watch::Stores;
use crate::admin::{self, Admin};
use crate::forward::Forwarder;
use crate::live::Live;
use crate::metrics::ProcessMetrics;
use crate::plugin::Runtime;

/// Run until `stop`, then release the Lease and drain the forwarder.
pub async fn run(
    client: kube::Client,
    mut options: Options,
    stop: CancellationToken,
) -> Result<(), RunError> {
    let ProcessMetrics {
        mut registry,
        plugin: plugin_metrics,
        forward: forward_metrics,
        reload: reload_metrics,
    } = ProcessMetrics::default();
    let metrics = ReconcileMetrics::default();
    metrics.register(&mut registry);
    let runtime = Runtime::new(options.runtime.clone(), plugin_metrics)
        .map_err(|e| RunError::Runtime(e.to_string()))?;
    let runtime = Arc::new(runtime);

    let _dir = configmap_dir(&client, &mut options, &stop).await?;
    let live = Arc::new(Live::new(reload_metrics));
    // The first load may pull plugins from a registry: off the async workers.
    let mut inputs = {
        let (rt, opts, live) = (runtime.clone(), options.clone(), live.clone());
        tokio::task::spawn_blocking(move || Inputs::load(rt, &opts, live))
            .await
            .map_err(|e| RunError::Runtime(format!("the first policy load failed: {e}")))??
    };
    runtime.artifacts().watch_tags(inputs.changes.trigger());
    let account = inputs.policy.loaded.policy.account.clone();
    let trigger = Arc::new(Notify::new());
    let leader = Leadership::new(
        &account,
        &options.operator_namespace,
        &options.identity,
        options.lease_duration,
        trigger.clone(),
    );
    let ctx = Context::new(
        client.clone(),
        &options.operator_namespace,
        &account,
        leader.clone(),
        metrics,
    );
    let stores = Stores::start(
        &client,
        &options.catalog_namespace,
        &account,
        trigger.clone(),
        &stop,
    );
    let lease_task = tokio::spawn(leader.clone().run(client.clone(), stop.clone()));

    let forwarder = Forwarder::new(options.listen, forward_metrics).map_err(RunError::Forwarder)?;
    forwarder.start_maintenance();
    let listener = admin::bind(options.admin)
        .await
        .map_err(|source| RunError::Admin {
            addr: options.admin,
            source,
        })?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(options.admin), "admin server listening");
    let view = Admin {
        registry: Arc::new(registry),
        live: live.clone(),
        forwarder: forwarder.clone(),
    };
    tokio::spawn(admin::serve(listener, view, stop.clone()));

    tokio::select! {
        _ = stop.cancelled() => {}
        ok = stores.ready() => if ok {
            super::run_loop::passes(&ctx, &stores, &mut inputs, &forwarder, &live, &trigger, options.resync, &stop).await;
        },
    }
    let _ = lease_task.await;
    let grace = inputs.policy.loaded.policy.forwarding.drain();
    if !forwarder.drain(grace).await {
        tracing::warn!("drain timed out; closing the remaining connections");
    }
    Ok(())
}

/// With `--watch-configmap`, the policy is the directory they are written
/// to; it is filled before the first load. Removed on drop.
async fn configmap_dir(
    client: &kube::Client,
    options: &mut Options,
    stop: &CancellationToken,
) -> Result<Option<TempDir>, RunError> {
    if options.watch_configmaps.is_empty() {
        return Ok(None);
    }
    let path = std::env::temp_dir().join(format!("bindery-policy-{}", std::process::id()));
    std::fs::create_dir_all(&path).map_err(|source| RunError::ConfigMapDir {
        path: path.clone(),
        source,
    })?;
    if options.policy.is_some() {
        tracing::warn!(
            "--watch-configmap given: the policy is read from the ConfigMaps, not --policy"
        );
    }
    let names = options.watch_configmaps.clone();
    super::configmaps::keep(
        client.clone(),
        &options.operator_namespace,
        names,
        path.clone(),
        stop.clone(),
    )
    .await;
    options.policy = Some(path.clone());
    Ok(Some(TempDir(path)))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
