//! One whole-catalog pass: every replica runs the pipeline and learns which
//! ports the cluster confirms; the leader also resolves and probes the
//! upstreams of direct projections, applies, cleans up and writes statuses.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::allocations;
use super::apply::{Applied, Key, apply_all, key};
use super::cleanup::{delete_orphans, orphans, owned};
use super::context::Context;
use super::direct;
use super::error::ReconcileError;
use super::guard::Decision;
use super::observed::{Observed, Upstreams};
use super::verdict::{Applies, verdicts};
use crate::pipeline::project::{DirectObjects, LABEL_UPSTREAM, Listing, direct, services};
use crate::pipeline::{Outcome, Projection, Reach};

/// What a pass found and did.
pub struct Pass {
    pub outcome: Outcome,
    /// The projections whose forwarder port the upstream Services show:
    /// what every replica serves.
    pub confirmed: Vec<Projection>,
    /// Whether this replica held the lease and wrote.
    pub leader: bool,
    /// What each direct URL lists (by projection id); the leader's only.
    pub listings: BTreeMap<String, Listing>,
    /// A switch from direct to proxy mode waits for the forwarder: run
    /// another pass once it serves what this one confirmed.
    pub again: bool,
    pub errors: Vec<ReconcileError>,
}

/// Run one pass over what `world` observed; `upstreams` knows the direct
/// projections' upstreams.
pub async fn reconcile(ctx: &Context, world: &Observed, upstreams: &impl Upstreams) -> Pass {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let policy = &world.policy;
    let ns = &ctx.operator_namespace;
    let in_cluster = allocations::read(&world.services, &ctx.account, ns);
    let leader = ctx.leader.is_leader();
    let previous = if leader {
        ctx.previous(&in_cluster)
    } else {
        in_cluster.clone()
    };
    let outcome = crate::pipeline::run(
        world.entries.clone(),
        &policy.loaded.policy,
        &policy.plugins,
        ns,
        &previous,
    );
    // Projections that left the catalog are served until their Services
    // go: deleted, or held by the deletion guard.
    let lingering = ctx.lingering(&outcome.projections, &in_cluster);
    let confirmed: Vec<Projection> = outcome
        .projections
        .iter()
        .filter(|p| {
            p.port()
                .is_some_and(|port| in_cluster.get(&p.key.id()) == Some(&port))
        })
        .chain(&lingering)
        .cloned()
        .collect();
    let direct_projections: Vec<Projection> = outcome
        .projections
        .iter()
        .filter(|p| leader && p.port().is_none())
        .cloned()
        .collect();
    // Only the Lease holder probes: one writer, one prober.
    let reach = upstreams.track(&direct_projections, &world.slices).await;
    let mut pass = Pass {
        outcome,
        confirmed,
        leader,
        listings: BTreeMap::new(),
        again: false,
        errors: Vec::new(),
    };
    if leader {
        let desired = Desired::new(ctx, world, &pass.outcome, &reach);
        let served = ctx.served_before(&pass.confirmed);
        let held = desired.held(world, &served);
        pass.again = !held.is_empty();
        let applies = desired.apply(ctx, world, &held, &mut pass.errors).await;
        desired.cleanup(ctx, world, &held, &mut pass.errors).await;
        let verdicts = verdicts(&pass.outcome, ns, &applies, &world.policy.loaded.policy);
        super::report::statuses(ctx, world, &verdicts, &mut pass.errors).await;
        if let Some(hub) = &ctx.hub
            && world.hub_reachable
        {
            super::hub::statuses(ctx, hub, &world.hub, &verdicts, &mut pass.errors).await;
        }
        ctx.remember(
            pass.outcome
                .projections
                .iter()
                .filter_map(|p| Some((p.key.id(), p.port()?)))
                .collect(),
        );
        pass.listings = applies.listings;
    }
    ctx.remember_projected(pass.outcome.projections.iter().chain(&lingering));
    ctx.remember_served(&pass.confirmed);
    if !pass.errors.is_empty() {
        ctx.metrics.failed.inc();
    }
    let elapsed = started.elapsed();
    ctx.metrics.duration.observe(elapsed.as_secs_f64());
    tracing::debug!(
        leader,
        projections = pass.outcome.projections.len(),
        errors = pass.errors.len(),
        ?elapsed,
        "pass done"
    );
    pass
}

/// The objects the catalog should be.
struct Desired {
    upstreams: Vec<Service>,
    targets: Vec<Service>,
    direct: Vec<DirectObjects>,
    listings: BTreeMap<String, Listing>,
}

/// A proxy target Service that is a direct Service of ours now, kept as it
/// is (with its slices) until the forwarder serves its new upstream
/// Service: flipped at once, it would send clients to a port nobody
/// listens on yet.
struct Held {
    targets: HashSet<Key>,
    slices: HashSet<Key>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl Desired {
    fn new(ctx: &Context, world: &Observed, outcome: &Outcome, reach: &Reach) -> Desired {
        let all = services(
            &outcome.projections,
            &world.policy.loaded.policy,
            &ctx.operator_namespace,
        );
        let (upstreams, targets) = all
            .into_iter()
            .partition(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP"));
        let (direct, listings) = direct(&outcome.projections, reach);
        Desired {
            upstreams,
            targets,
            direct,
            listings,
        }
    }

    /// Proxy targets whose live Service is a direct one of ours, while their
    /// upstream Service's port has not been served for a whole pass.
    fn held(&self, world: &Observed, served: &HashSet<String>) -> Held {
        let live: HashMap<Key, &Arc<Service>> = world
            .services
            .iter()
            .map(|s| (key(s.as_ref()), s))
            .collect();
        let mut held = Held {
            targets: HashSet::new(),
            slices: HashSet::new(),
        };
        for t in &self.targets {
            let k = key(t);
            let Some(svc) = live.get(&k) else { continue };
            let direct_now =
                svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP");
            let urls = urls_of(t);
            if direct_now && !urls.iter().all(|u| served.contains(u)) {
                held.targets.insert(k.clone());
            }
        }
        for s in &world.slices {
            let (ns, _) = key(s.as_ref());
            let service = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(crate::pipeline::project::slices::LABEL_SERVICE_NAME));
            if let Some(name) = service
                && held.targets.contains(&(ns.clone(), name.clone()))
            {
                held.slices.insert(key(s.as_ref()));
            }
        }
        if !held.is_empty() {
            tracing::info!(targets = ?held.targets, "switching to proxy mode: the target Services stay direct until the forwarder serves their upstream Services");
        }
        held
    }

    fn service_keys(&self, held: &Held) -> HashSet<Key> {
        self.upstreams
            .iter()
            .chain(&self.targets)
            .chain(self.direct.iter().map(|d| &d.service))
            .map(key)
            .chain(held.targets.iter().cloned())
            .collect()
    }

    fn slice_keys(&self, held: &Held) -> HashSet<Key> {
        self.direct
            .iter()
            .flat_map(|d| &d.slices)
            .map(key)
            .chain(held.slices.iter().cloned())
            .collect()
    }

    /// Upstream Services first; a proxy target is applied only once its
    /// upstream is in place (a conflict there leaves the target alone too)
    /// and not while it is held; direct targets as [`direct::apply`] says.
    async fn apply(
        &self,
        ctx: &Context,
        world: &Observed,
        held: &Held,
        errors: &mut Vec<ReconcileError>,
    ) -> Applies {
        let observed: HashMap<Key, _> = world
            .services
            .iter()
            .map(|s| (key(s.as_ref()), s.clone()))
            .collect();
        let observed_slices: HashMap<Key, Arc<EndpointSlice>> = world
            .slices
            .iter()
            .map(|s| (key(s.as_ref()), s.clone()))
            .collect();
        let (mut states, e) = apply_all(
            ctx,
            self.upstreams.iter().collect(),
            &observed,
            &world.namespaces,
        )
        .await;
        errors.extend(e);
        let ready = |t: &&Service| {
            let upstream = t
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_UPSTREAM));
            upstream.is_some_and(|u| {
                states
                    .get(&(ctx.operator_namespace.clone(), u.clone()))
                    .is_some_and(Applied::is_ok)
            })
        };
        let targets: Vec<&Service> = self
            .targets
            .iter()
            .filter(|t| !held.targets.contains(&key(*t)))
            .filter(ready)
            .collect();
        let (more, e) = apply_all(ctx, targets, &observed, &world.namespaces).await;
        errors.extend(e);
        states.extend(more);
        for k in &held.targets {
            states.insert(
                k.clone(),
                Applied::Held(
                    "switching to proxy mode: the Service stays direct until the forwarder serves its upstream Service (a pass or two)".to_string(),
                ),
            );
        }
        let d = direct::apply(
            ctx,
            &self.direct,
            &observed,
            &observed_slices,
            &world.namespaces,
            errors,
        )
        .await;
        states.extend(d.services);
        Applies {
            services: states,
            slices: d.slices,
            slices_of: self
                .direct
                .iter()
                .flat_map(|o| &o.slices)
                .map(|s| (url_of(s), key(s)))
                .fold(
                    HashMap::new(),
                    |mut m: HashMap<String, Vec<Key>>, (u, k)| {
                        m.entry(u).or_default().push(k);
                        m
                    },
                ),
            listings: self.listings.clone(),
        }
    }

    /// Delete this account's Services and EndpointSlices that are not
    /// desired (nor held for a switch of mode), unless the deletion guard
    /// holds them.
    async fn cleanup(
        &self,
        ctx: &Context,
        world: &Observed,
        held: &Held,
        errors: &mut Vec<ReconcileError>,
    ) {
        let owned_services = owned(ctx, &world.services);
        let service_orphans = orphans(&owned_services, &self.service_keys(held));
        let confirmation = ctx.leader.confirmation();
        let decision = ctx.guard.decide(
            &service_orphans,
            &owned_services,
            &world.unsynced,
            confirmation.as_deref(),
        );
        match decision {
            Decision::Delete => {
                super::report::deletions(ctx, None).await;
                let (_, e) = delete_orphans(ctx, &world.services, &self.service_keys(held)).await;
                errors.extend(e);
                let (_, e) = delete_orphans(ctx, &world.slices, &self.slice_keys(held)).await;
                errors.extend(e);
            }
            Decision::Hold(hold) => super::report::deletions(ctx, Some(&hold)).await,
        }
    }
}

/// The URLs a Service carries (its `bindery.dev/urls` annotation).
fn urls_of(svc: &Service) -> Vec<String> {
    svc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(crate::pipeline::project::ANNOTATION_URLS))
        .map(|list| list.split(',').map(|u| u.trim().to_string()).collect())
        .unwrap_or_default()
}

/// The URL a slice lists the upstreams of.
fn url_of(slice: &EndpointSlice) -> String {
    slice
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(crate::pipeline::project::slices::ANNOTATION_URL))
        .cloned()
        .unwrap_or_default()
}
