//! Orphans: this account's Services that no projection wants any more (the
//! object was deleted, a selector or the account changed). Both Services of
//! a projection carry the labels, so both go. A delete names the uid it saw,
//! so a Service replaced meanwhile by someone else's is never deleted; one
//! already gone counts as done. The pass asks the deletion guard
//! ([`super::guard`]) before it deletes any.
use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Preconditions};

use super::apply::{Key, key};
use super::context::Context;
use super::error::{ReconcileError, is_conflict, is_not_found};
use super::owned::Owner;

/// This account's Services of `observed`, those being deleted aside.
pub fn owned<'a>(ctx: &Context, observed: &'a [Arc<Service>]) -> Vec<&'a Service> {
    observed
        .iter()
        .filter(|s| Owner::of(s, &ctx.account) == Owner::Us)
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .map(|s| s.as_ref())
        .collect()
}

/// Those of `owned` whose key is not in `desired`.
pub fn orphans<'a>(owned: &[&'a Service], desired: &HashSet<Key>) -> Vec<&'a Service> {
    owned
        .iter()
        .filter(|s| !desired.contains(&key(s)))
        .copied()
        .collect()
}

/// Delete `orphans`; returns how many were deleted.
pub async fn delete_orphans(ctx: &Context, orphans: &[&Service]) -> (usize, Vec<ReconcileError>) {
    let results: Vec<Result<bool, ReconcileError>> =
        futures::stream::iter(orphans.iter().map(|s| delete(ctx, s)))
            .buffer_unordered(ctx.concurrency.max(1))
            .collect()
            .await;
    let mut deleted = 0;
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(true) => deleted += 1,
            Ok(false) => {}
            Err(e) => errors.push(e),
        }
    }
    (deleted, errors)
}

async fn delete(ctx: &Context, svc: &Service) -> Result<bool, ReconcileError> {
    let (ns, name) = key(svc);
    if !ctx.leader.is_leader() {
        return Ok(false);
    }
    let service = format!("{ns}/{name}");
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: svc.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            ctx.metrics.deletes.inc();
            tracing::info!(%service, "orphaned Service deleted");
            Ok(true)
        }
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) if is_conflict(&e) => {
            tracing::warn!(%service, "Service was replaced since it was seen; not deleted");
            Ok(false)
        }
        Err(source) => Err(ReconcileError::Delete { service, source }),
    }
}
