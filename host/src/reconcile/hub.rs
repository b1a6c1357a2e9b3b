//! This member's state on the hub: its own entry in `status.clusters` of
//! every hub `BoundEndpoint` of its account, keyed by cluster name and
//! written by server-side apply with a field manager of its own
//! (`bindery-<cluster>`), so members never overwrite each other's entries;
//! beside it `status.clusterCount`, the entries with `ready: "True"` as
//! this member sees them (every member writes the same count once the
//! object settles; equal values share ownership, so this is no fight).
//!
//! The cluster name is held on the hub by a Lease (`bindery-member-<name>`,
//! holder: the member cluster's identity): a second cluster given the same
//! name finds it held, writes nothing on the hub, and reports
//! `DuplicateClusterName` (Event, log, metric) until the name is free.
//! Only the member's leader writes, and only what differs.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};

use super::context::Context;
use super::error::ReconcileError;
use super::member::Hub;
use super::verdict::Verdict;
use crate::catalog::hub::hub_entry_id;
use crate::catalog::{BoundEndpoint, ClusterStatus};
use crate::pipeline::RejectKind;

/// A pass spends at most this on the hub's statuses: a hub that does not
/// answer must not hold up the member's own reconciling.
const HUB_BUDGET: Duration = Duration::from_secs(20);

/// Write this member's entry of every hub object whose entry changed.
pub async fn statuses(
    ctx: &Context,
    hub: &Hub,
    objects: &[Arc<BoundEndpoint>],
    verdicts: &HashMap<String, Verdict>,
    errors: &mut Vec<ReconcileError>,
) {
    if !ctx.leader.is_leader() {
        return;
    }
    let member = hub.membership.is_leader();
    ctx.metrics.hub_member.set(i64::from(member));
    if !member {
        if let Some(other) = hub.membership.other_holder() {
            let note = format!(
                "cluster name {:?} is held on the hub by another member (identity {other}, Lease {}); this member writes nothing on the hub until the name is free: give each member its own --cluster-name",
                hub.cluster,
                hub.membership.lease()
            );
            if let Some(regarding) = &ctx.regarding {
                ctx.events
                    .warn("hub membership", regarding, "DuplicateClusterName", note)
                    .await;
            } else {
                ctx.events
                    .news("hub membership", "DuplicateClusterName", &note);
            }
        }
        return;
    }
    ctx.events.forget("hub membership");
    let identity = hub.membership.identity().to_string();
    let writes = objects.iter().filter_map(|o| {
        let verdict = verdicts.get(&hub_entry_id(o))?;
        // Another account's object is not this installation's to describe.
        if matches!(
            verdict,
            Verdict::Rejected {
                kind: RejectKind::OtherAccount,
                ..
            }
        ) {
            return None;
        }
        let live = o.status.as_ref();
        let before = live.and_then(|s| s.clusters.iter().find(|c| c.cluster == hub.cluster));
        let entry = entry(
            &hub.cluster,
            &identity,
            verdict,
            o.metadata.generation,
            before,
        );
        let count = live.map_or(0, |s| {
            s.clusters
                .iter()
                .filter(|c| c.cluster != hub.cluster && c.ready == "True")
                .count()
        }) + usize::from(entry.ready == "True");
        let count = count as i64;
        let same = before == Some(&entry) && live.and_then(|s| s.cluster_count) == Some(count);
        (!same).then(|| write(ctx, hub, o, entry, count))
    });
    let all = futures::stream::iter(writes)
        .buffer_unordered(ctx.concurrency.max(1))
        .collect::<Vec<Result<(), ReconcileError>>>();
    match tokio::time::timeout(HUB_BUDGET, all).await {
        Ok(results) => errors.extend(results.into_iter().filter_map(Result::err)),
        Err(_) => errors.push(ReconcileError::HubSlow {
            namespace: hub.namespace.clone(),
            after: HUB_BUDGET,
        }),
    }
}

/// This member's entry for a verdict; the transition time is kept while
/// `ready` does not change.
pub fn entry(
    cluster: &str,
    identity: &str,
    verdict: &Verdict,
    generation: Option<i64>,
    before: Option<&ClusterStatus>,
) -> ClusterStatus {
    let (ready, reason, message) = super::status::readiness(verdict);
    let ready = if ready { "True" } else { "False" };
    let last_transition_time = match before {
        Some(b) if b.ready == ready => b.last_transition_time.clone(),
        _ => Some(Time(k8s_openapi::jiff::Timestamp::now())),
    };
    ClusterStatus {
        cluster: cluster.to_string(),
        ready: ready.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
        member: identity.to_string(),
    }
}

async fn write(
    ctx: &Context,
    hub: &Hub,
    object: &BoundEndpoint,
    entry: ClusterStatus,
    count: i64,
) -> Result<(), ReconcileError> {
    let ns = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<BoundEndpoint> = Api::namespaced(hub.client.clone(), &ns);
    let body = serde_json::json!({
        "apiVersion": "bindery.dev/v1alpha1",
        "kind": "BoundEndpoint",
        "status": {"clusters": [entry], "clusterCount": count},
    });
    // Forced: only this member's own entry (and the shared count) is
    // applied, and nobody else may hold fields of it.
    let params = PatchParams::apply(&hub.field_manager()).force();
    api.patch_status(&name, &params, &Patch::Apply(&body))
        .await
        .map_err(|source| ReconcileError::HubStatus {
            object: format!("{ns}/{name}"),
            source,
        })?;
    ctx.metrics.hub_writes.inc();
    Ok(())
}
