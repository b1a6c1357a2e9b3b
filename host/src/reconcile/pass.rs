//! One whole-catalog pass: every replica runs the pipeline and learns which
//! ports the cluster confirms; the leader also applies, cleans up and
//! writes statuses.
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use k8s_openapi::api::core::v1::Service;

use super::allocations;
use super::apply::{Applied, Key, apply_all, key};
use super::cleanup::{delete_orphans, orphans, owned};
use super::context::Context;
use super::error::ReconcileError;
use super::guard::Decision;
use super::observed::Observed;
use super::verdict::verdicts;
use crate::pipeline::Outcome;
use crate::pipeline::Projection;
use crate::pipeline::project::{LABEL_UPSTREAM, services};

/// What a pass found and did.
pub struct Pass {
    pub outcome: Outcome,
    /// The projections whose forwarder port the upstream Services show:
    /// what every replica serves.
    pub confirmed: Vec<Projection>,
    /// Whether this replica held the lease and wrote.
    pub leader: bool,
    pub errors: Vec<ReconcileError>,
}

/// Run one pass over what `world` observed.
pub async fn reconcile(ctx: &Context, world: &Observed) -> Pass {
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
    let confirmed = outcome
        .projections
        .iter()
        .filter(|p| in_cluster.get(&p.key.id()) == Some(&p.port))
        .chain(&lingering)
        .cloned()
        .collect();
    let mut pass = Pass {
        outcome,
        confirmed,
        leader,
        errors: Vec::new(),
    };
    if leader {
        let desired = Desired::new(ctx, world, &pass.outcome);
        let states = desired.apply(ctx, world, &mut pass.errors).await;
        desired.cleanup(ctx, world, &mut pass.errors).await;
        let verdicts = verdicts(&pass.outcome, ns, &states);
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
                .map(|p| (p.key.id(), p.port))
                .collect(),
        );
    }
    ctx.remember_projected(pass.outcome.projections.iter().chain(&lingering));
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

/// The Services the catalog should be.
struct Desired {
    upstreams: Vec<Service>,
    targets: Vec<Service>,
}

impl Desired {
    fn new(ctx: &Context, world: &Observed, outcome: &Outcome) -> Desired {
        let all = services(
            &outcome.projections,
            &world.policy.loaded.policy,
            &ctx.operator_namespace,
        );
        let (upstreams, targets) = all
            .into_iter()
            .partition(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP"));
        Desired { upstreams, targets }
    }

    fn keys(&self) -> HashSet<Key> {
        self.upstreams
            .iter()
            .chain(&self.targets)
            .map(key)
            .collect()
    }

    /// Upstream Services first; a target is applied only once its upstream
    /// is in place (a conflict there leaves the target alone too).
    async fn apply(
        &self,
        ctx: &Context,
        world: &Observed,
        errors: &mut Vec<ReconcileError>,
    ) -> HashMap<Key, Applied> {
        let observed: HashMap<Key, _> =
            world.services.iter().map(|s| (key(s), s.clone())).collect();
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
        let targets: Vec<&Service> = self.targets.iter().filter(ready).collect();
        let (more, e) = apply_all(ctx, targets, &observed, &world.namespaces).await;
        errors.extend(e);
        states.extend(more);
        states
    }

    /// Delete this account's Services that are not desired, unless the
    /// deletion guard holds them.
    async fn cleanup(&self, ctx: &Context, world: &Observed, errors: &mut Vec<ReconcileError>) {
        let owned = owned(ctx, &world.services);
        let orphans = orphans(&owned, &self.keys());
        let confirmation = ctx.leader.confirmation();
        match ctx
            .guard
            .decide(&orphans, &owned, &world.unsynced, confirmation.as_deref())
        {
            Decision::Delete => {
                super::report::deletions(ctx, None).await;
                let (_, e) = delete_orphans(ctx, &orphans).await;
                errors.extend(e);
            }
            Decision::Hold(held) => super::report::deletions(ctx, Some(&held)).await,
        }
    }
}
