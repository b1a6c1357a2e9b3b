//! `bindery run`: the process of [`super::Process`] with a cluster. The
//! catalog adds the `BoundEndpoint` objects of the catalog namespace; every
//! pass is the reconciler's, every replica serves what the upstream
//! Services confirm, and the holder of the Lease writes. A refused reload
//! is also a Warning Event.
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::passes::{self, Mode};
use super::{Common, Operator, Process, StartError};
use crate::catalog::bound::BoundSource;
use crate::catalog::{Entry, Sources};
use crate::forward::{ListenError, Serving};
use crate::live::{PolicyGeneration, Snapshot};
use crate::pipeline::{Outcome, Projection};
use crate::reconcile::events::reference;
use crate::reconcile::watch::Stores;
use crate::reconcile::{Context, Leadership, Observed, ReconcileMetrics, reconcile};

/// Run until `stop`, then release the Lease and drain the forwarder.
pub async fn run(
    client: kube::Client,
    mut common: Common,
    options: Operator,
    stop: CancellationToken,
) -> Result<(), StartError> {
    let metrics = ReconcileMetrics::default();
    let _dir = configmap_dir(&client, &mut common, &options, &stop).await?;
    let trigger = Arc::new(Notify::new());
    let bound = Arc::new(BoundSource::start(
        &client,
        &options.catalog_namespace,
        &trigger,
        &stop,
    ));
    let mut sources = Sources::default();
    // The objects' entries come before the file's.
    sources.push(bound.clone());
    let mut process = Process::start(
        &common,
        |r| metrics.register(r),
        trigger,
        sources,
        stop.clone(),
    )
    .await?;
    process.policy.fix_account();
    let account = process.policy.current().loaded.policy.account.clone();
    let leader = Leadership::new(
        &account,
        &options.operator_namespace,
        &options.identity,
        options.lease_duration,
        process.trigger.clone(),
    );
    let ctx = Context::new(
        client.clone(),
        &options.operator_namespace,
        &account,
        leader.clone(),
        metrics,
    );
    let stores = Stores::start(&client, &account, process.trigger.clone(), &stop);
    let lease_task = tokio::spawn(leader.run(client.clone(), stop.clone()));
    let ready = async { bound.ready().await && stores.ready().await };
    let ready = tokio::select! {
        _ = stop.cancelled() => false,
        ok = ready => ok,
    };
    if ready {
        let mut mode = Reconciling {
            regarding: regarding(&options),
            ctx,
            stores,
            bound,
        };
        passes::run(&mut mode, &mut process, Some(options.resync)).await;
    }
    let _ = lease_task.await;
    process.drain().await;
    Ok(())
}

/// The operator's [`Mode`]: every pass is a reconcile.
struct Reconciling {
    ctx: Context,
    stores: Stores,
    bound: Arc<BoundSource>,
    /// What a refused reload's Event regards.
    regarding: Option<ObjectReference>,
}

impl Mode for Reconciling {
    async fn pass(
        &mut self,
        entries: Vec<Entry>,
        policy: &Arc<PolicyGeneration>,
        _previous: Option<&Snapshot>,
    ) -> (Outcome, Vec<Projection>) {
        let observed = Observed {
            entries,
            bound: self.bound.objects(),
            services: self.stores.services.state(),
            namespaces: self.stores.namespace_names(),
            policy: policy.clone(),
        };
        let pass = reconcile(&self.ctx, &observed).await;
        for e in &pass.errors {
            tracing::warn!(error = %e, "pass error; retried on the next pass");
        }
        (pass.outcome, pass.confirmed)
    }

    fn served(&mut self, results: Vec<Result<Serving, ListenError>>) {
        for e in results.into_iter().filter_map(Result::err) {
            tracing::error!(error = %e, "endpoint not served");
        }
    }

    async fn refused(&self, errors: &[String]) {
        if let Some(regarding) = &self.regarding {
            let note = errors.join("; ");
            self.ctx
                .events
                .warn("reload", regarding, "ReloadFailed", note)
                .await;
        }
    }

    fn recovered(&self) {
        self.ctx.events.forget("reload");
    }
}

/// Refused reloads regard the first watched ConfigMap, else this pod.
fn regarding(options: &Operator) -> Option<ObjectReference> {
    let ns = &options.operator_namespace;
    match options.watch_configmaps.first() {
        Some(name) => Some(reference("v1", "ConfigMap", ns, name, None)),
        None => std::env::var("POD_NAME")
            .ok()
            .map(|pod| reference("v1", "Pod", ns, &pod, None)),
    }
}

/// With `--watch-configmap`, the policy is the directory they are written
/// to; it is filled before the first load. Removed on drop.
async fn configmap_dir(
    client: &kube::Client,
    common: &mut Common,
    options: &Operator,
    stop: &CancellationToken,
) -> Result<Option<TempDir>, StartError> {
    if options.watch_configmaps.is_empty() {
        return Ok(None);
    }
    let path = std::env::temp_dir().join(format!("bindery-policy-{}", std::process::id()));
    std::fs::create_dir_all(&path).map_err(|source| StartError::ConfigMapDir {
        path: path.clone(),
        source,
    })?;
    if common.policy.is_some() {
        tracing::warn!(
            "--watch-configmap given: the policy is read from the ConfigMaps, not --policy"
        );
    }
    super::configmaps::keep(
        client.clone(),
        &options.operator_namespace,
        options.watch_configmaps.clone(),
        path.clone(),
        stop.clone(),
    )
    .await;
    common.policy = Some(path.clone());
    Ok(Some(TempDir(path)))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
