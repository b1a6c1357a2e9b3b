//! Orphans: this account's Services and EndpointSlices that no projection
//! wants any more (the object was deleted, a selector, the account or the
//! mode changed). Every object of a projection carries the labels, so all
//! go. A delete names the uid it saw, so an object replaced meanwhile by
//! someone else's is never deleted; one already gone counts as done. The
//! pass asks the deletion guard ([`super::guard`]) first, with [`owned`]
//! and [`orphans`].
use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, Preconditions};

use super::apply::{Key, Object, key};
use super::context::Context;
use super::error::{ReconcileError, is_conflict, is_not_found};
use super::owned::Owner;

/// This account's objects of `observed`, those being deleted aside.
pub fn owned<'a, K: Object>(ctx: &Context, observed: &'a [Arc<K>]) -> Vec<&'a K> {
    observed
        .iter()
        .filter(|s| Owner::of(s.meta(), &ctx.account) == Owner::Us)
        .filter(|s| s.meta().deletion_timestamp.is_none())
        .map(|s| s.as_ref())
        .collect()
}

/// Those of `owned` whose key is not in `desired`.
pub fn orphans<'a, K: Object>(owned: &[&'a K], desired: &HashSet<Key>) -> Vec<&'a K> {
    owned
        .iter()
        .filter(|s| !desired.contains(&key(**s)))
        .copied()
        .collect()
}

/// Delete every object of `observed` whose key is not in `desired`;
/// returns how many were deleted.
pub async fn delete_orphans<K: Object>(
    ctx: &Context,
    observed: &[Arc<K>],
    desired: &HashSet<Key>,
) -> (usize, Vec<ReconcileError>) {
    let orphans = observed
        .iter()
        .filter(|s| !desired.contains(&key(s.as_ref())))
        .filter(|s| Owner::of(s.meta(), &ctx.account) == Owner::Us)
        .filter(|s| s.meta().deletion_timestamp.is_none());
    let results: Vec<Result<bool, ReconcileError>> =
        futures::stream::iter(orphans.map(|s| delete(ctx, s.as_ref())))
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

async fn delete<K: Object>(ctx: &Context, object: &K) -> Result<bool, ReconcileError> {
    let (ns, name) = key(object);
    if !ctx.leader.is_leader() {
        return Ok(false);
    }
    let full = format!("{ns}/{name}");
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: object.meta().uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            ctx.metrics.deletes.inc();
            tracing::info!(kind = K::KIND, object = %full, "orphan deleted");
            Ok(true)
        }
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) if is_conflict(&e) => {
            tracing::warn!(kind = K::KIND, object = %full, "replaced since it was seen; not deleted");
            Ok(false)
        }
        Err(source) => Err(ReconcileError::Delete {
            kind: K::KIND,
            object: full,
            resource: K::RESOURCE,
            source,
        }),
    }
}
