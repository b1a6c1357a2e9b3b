//! `bindery run`: the process of [`super::Process`] with a cluster. The
//! catalog adds the `BoundEndpoint` objects of the catalog namespace, a
//! hub's and a catalog URL's when asked; every pass is the reconciler's,
//! every replica serves what the upstream Services confirm, and the holder
//! of the Lease writes (on a hub too, under the member's cluster name), and
//! resolves and probes the upstreams of direct projections with the
//! forwarder's prober (a change there is a trigger). A refused reload or a
//! failing source is also a Warning Event.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::passes::{self, Mode};
use super::{Common, HubOptions, Operator, Process, StartError};
use crate::catalog::bound::BoundSource;
use crate::catalog::http::HttpSource;
use crate::catalog::hub::HubSource;
use crate::catalog::{Entry, Source, Sources};
use crate::forward::{Forwarder, ListenError, Serving};
use crate::live::{PolicyGeneration, Snapshot};
use crate::pipeline::project::readiness;
use crate::pipeline::{Outcome, Projection, Reach};
use crate::policy::Forwarding;
use crate::reconcile::events::reference;
use crate::reconcile::watch::Stores;
use crate::reconcile::{
    Context, Hub, Leadership, Observed, ReconcileMetrics, Upstreams, reconcile,
};

/// How long the first pass waits for a hub or a catalog URL to be read
/// once; after that passes run without it, deletions held until it is.
const FIRST_READ: Duration = Duration::from_secs(10);

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
    let mut sources = Sources::default();
    // Merged in this order: local objects, the hub's, the URL's, then the
    // file's (Process::start adds it).
    let bound = options.local_catalog.then(|| {
        Arc::new(BoundSource::start(
            &client,
            &options.catalog_namespace,
            &trigger,
            &stop,
        ))
    });
    if let Some(b) = &bound {
        sources.push(b.clone());
    }
    let hub = options
        .hub
        .as_ref()
        .map(|h| Arc::new(HubSource::start(&h.client, &h.namespace, &trigger, &stop)));
    if let Some(h) = &hub {
        sources.push(h.clone());
    }
    if let Some(url) = &options.catalog_url {
        let http = HttpSource::start(url.clone(), trigger.clone(), stop.clone())?;
        sources.push(Arc::new(http));
    }
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
    let stores = Stores::start(&client, &account, process.trigger.clone(), &stop);
    let lease_task = tokio::spawn(leader.clone().run(client.clone(), stop.clone()));
    let ready = async {
        let local = match &bound {
            Some(b) => b.ready().await,
            None => true,
        };
        local && stores.ready().await
    };
    let ready = tokio::select! {
        _ = stop.cancelled() => false,
        ok = ready => ok,
    };
    if ready {
        first_reads(&process.sources, &stop).await;
        let mut ctx = Context::new(
            client.clone(),
            &options.operator_namespace,
            &account,
            leader.clone(),
            metrics,
        )
        .with_guard(options.guard)
        .with_regarding(regarding(&options));
        if let Some(h) = &options.hub {
            let member = membership(h, &stores, &leader, &process, &stop);
            ctx = ctx.with_hub(member);
        }
        process.forwarder.direct().notify(process.trigger.clone());
        let mut mode = Reconciling {
            ctx,
            stores,
            bound,
            hub,
            sources: process.sources.clone(),
            forwarder: process.forwarder.clone(),
            trigger: process.trigger.clone(),
        };
        passes::run(&mut mode, &mut process, Some(options.resync)).await;
    }
    let _ = lease_task.await;
    process.drain().await;
    Ok(())
}

/// Wait, for [`FIRST_READ`] at most, until every source has been read once,
/// so that a normal start does not begin with deletions held.
async fn first_reads(sources: &Sources, stop: &CancellationToken) {
    let deadline = tokio::time::Instant::now() + FIRST_READ;
    while !sources.unsynced().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    for origin in sources.unsynced() {
        tracing::warn!(source = %origin, "not read yet; passes go on without it and hold every deletion until it is");
    }
}

/// This member's place on the hub: its cluster name held by a Lease there
/// under the cluster's identity (the uid of its `kube-system` namespace,
/// the same for every replica), renewed by the member's leader only.
fn membership(
    options: &HubOptions,
    stores: &Stores,
    leader: &Arc<Leadership>,
    process: &Process,
    stop: &CancellationToken,
) -> Hub {
    let identity = stores
        .namespaces
        .state()
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some("kube-system"))
        .and_then(|n| n.metadata.uid.clone())
        .unwrap_or_else(|| {
            let fallback = format!("{}/{}", options.cluster, leader.identity());
            tracing::warn!(identity = %fallback, "no kube-system namespace to identify this cluster by; the pod's name stands in, so a new leader waits for the hub Lease to expire");
            fallback
        });
    let membership = Leadership::named(
        &Hub::lease_name(&options.cluster),
        &options.namespace,
        &identity,
        options.lease_duration,
        process.trigger.clone(),
    );
    tracing::info!(cluster = %options.cluster, %identity, hub_namespace = %options.namespace, "member of a hub");
    tokio::spawn(membership.clone().run_while(
        options.client.clone(),
        Some(leader.clone()),
        stop.clone(),
    ));
    Hub {
        client: options.client.clone(),
        namespace: options.namespace.clone(),
        cluster: options.cluster.clone(),
        membership,
    }
}

/// The operator's [`Mode`]: every pass is a reconcile.
struct Reconciling {
    ctx: Context,
    stores: Stores,
    bound: Option<Arc<BoundSource>>,
    hub: Option<Arc<HubSource>>,
    sources: Sources,
    /// Its prober tracks the direct projections' upstreams.
    forwarder: Arc<Forwarder>,
    /// Notified for another pass (a switch to proxy mode waits a pass).
    trigger: Arc<Notify>,
}

impl Reconciling {
    /// Each source's health and size, for `bindery_source_*`.
    fn publish_sources(&self) {
        for source in self.sources.iter() {
            let labels = vec![("source".to_string(), source.origin().to_string())];
            let up = source.failure().is_none() && source.synced();
            self.ctx
                .metrics
                .source_up
                .get_or_create(&labels)
                .set(i64::from(up));
            self.ctx
                .metrics
                .source_entries
                .get_or_create(&labels)
                .set(source.entries().len() as i64);
        }
    }
}

/// The forwarder's prober and resolver, under the policy's settings.
struct Probed<'a> {
    forwarder: &'a Forwarder,
    settings: &'a Forwarding,
}

impl Upstreams for Probed<'_> {
    async fn track(&self, direct: &[Projection], live: &[Arc<EndpointSlice>]) -> Reach {
        let seeds = readiness(live.iter().map(AsRef::as_ref));
        self.forwarder
            .direct()
            .track(direct, self.settings, &seeds)
            .await
    }
}

impl Mode for Reconciling {
    async fn pass(
        &mut self,
        entries: Vec<Entry>,
        policy: &Arc<PolicyGeneration>,
        _previous: Option<&Snapshot>,
    ) -> (Outcome, Vec<Projection>) {
        self.publish_sources();
        let observed = Observed {
            entries,
            bound: self.bound.as_ref().map_or_else(Vec::new, |b| b.objects()),
            hub: self.hub.as_ref().map_or_else(Vec::new, |h| h.objects()),
            hub_reachable: self.hub.as_ref().is_some_and(|h| h.failure().is_none()),
            unsynced: self.sources.unsynced(),
            services: self.stores.services.state(),
            slices: self.stores.slices.state(),
            namespaces: self.stores.namespace_names(),
            policy: policy.clone(),
        };
        let upstreams = Probed {
            forwarder: &self.forwarder,
            settings: &policy.loaded.policy.forwarding,
        };
        let pass = reconcile(&self.ctx, &observed, &upstreams).await;
        for e in &pass.errors {
            tracing::warn!(error = %e, "pass error; retried on the next pass");
        }
        if pass.again {
            self.trigger.notify_one();
        }
        (pass.outcome, pass.confirmed)
    }

    fn served(&mut self, results: Vec<Result<Serving, ListenError>>) {
        for e in results.into_iter().filter_map(Result::err) {
            tracing::error!(error = %e, "endpoint not served");
        }
    }

    async fn refused(&self, errors: &[String]) {
        if let Some(regarding) = &self.ctx.regarding {
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
