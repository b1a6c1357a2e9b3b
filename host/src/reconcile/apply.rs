//! Server-side apply of the desired Services, each only when the live
//! object differs in a field Bindery sets, and never over a Service that is
//! not this installation's.
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};

use super::context::{Context, FIELD_MANAGER};
use super::diff::differs;
use super::error::{ReconcileError, is_conflict, is_not_found};
use super::owned::Owner;

/// `(namespace, name)` of a Service.
pub type Key = (String, String);

pub fn key(svc: &Service) -> Key {
    (
        svc.metadata.namespace.clone().unwrap_or_default(),
        svc.metadata.name.clone().unwrap_or_default(),
    )
}

/// What became of one desired Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Already as desired: no request made.
    Unchanged,
    Written,
    /// A Service of that name is someone else's: left untouched.
    Conflict(Owner),
    /// Its namespace does not exist (Bindery never creates one).
    NamespaceMissing,
    Failed(String),
}

impl Applied {
    pub fn is_ok(&self) -> bool {
        matches!(self, Applied::Unchanged | Applied::Written)
    }
}

/// Apply `desired`, `ctx.concurrency` at a time. `observed` holds this
/// account's Services from the watch cache; a Service missing there is
/// read first, so one that is not ours is seen before anything is sent.
pub async fn apply_all(
    ctx: &Context,
    desired: Vec<&Service>,
    observed: &HashMap<Key, Arc<Service>>,
    namespaces: &BTreeSet<String>,
) -> (HashMap<Key, Applied>, Vec<ReconcileError>) {
    let results: Vec<(Key, Result<Applied, ReconcileError>)> =
        futures::stream::iter(desired.into_iter().map(|svc| {
            let k = key(svc);
            let live = observed.get(&k).cloned();
            let ns_exists = namespaces.contains(&k.0);
            async move { (k, apply_one(ctx, svc, live, ns_exists).await) }
        }))
        .buffer_unordered(ctx.concurrency.max(1))
        .collect()
        .await;
    let mut states = HashMap::new();
    let mut errors = Vec::new();
    for (k, r) in results {
        let state = match r {
            Ok(s) => s,
            Err(e) => {
                let state = Applied::Failed(e.to_string());
                errors.push(e);
                state
            }
        };
        states.insert(k, state);
    }
    (states, errors)
}

async fn apply_one(
    ctx: &Context,
    svc: &Service,
    cached: Option<Arc<Service>>,
    ns_exists: bool,
) -> Result<Applied, ReconcileError> {
    let (ns, name) = key(svc);
    if !ctx.leader.is_leader() {
        return Ok(Applied::Failed(
            "this replica lost the Lease during the pass".to_string(),
        ));
    }
    if !ns_exists {
        return Ok(Applied::NamespaceMissing);
    }
    let service = format!("{ns}/{name}");
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    let live = match cached {
        Some(s) => Some(s),
        None => api
            .get_opt(&name)
            .await
            .map_err(|source| ReconcileError::Read {
                service: service.clone(),
                source,
            })?
            .map(Arc::new),
    };
    if let Some(live) = &live {
        match Owner::of(live, &ctx.account) {
            Owner::Us if !differs(live, svc) => return Ok(Applied::Unchanged),
            Owner::Us => {}
            other => {
                ctx.metrics.conflicts.inc();
                tracing::warn!(%service, owner = %other.describe(), "Service is not ours; left untouched");
                return Ok(Applied::Conflict(other));
            }
        }
    }
    // Force only over a Service known to be ours. A new one is applied
    // without force: should someone create a Service of that name between
    // the read and the apply, the fields they set conflict (409) instead of
    // being taken over, and the Service is read again to say whose it is.
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if live.is_some() {
        params = params.force();
    }
    match api.patch(&name, &params, &Patch::Apply(svc)).await {
        Ok(_) => {
            ctx.metrics.applies.inc();
            tracing::info!(%service, created = live.is_none(), "Service applied");
            Ok(Applied::Written)
        }
        // The namespace went away since the watch cache saw it.
        Err(e) if is_not_found(&e) => Ok(Applied::NamespaceMissing),
        Err(e) if live.is_none() && is_conflict(&e) => {
            ctx.metrics.conflicts.inc();
            let owner = match api.get_opt(&name).await {
                Ok(Some(s)) => Owner::of(&s, &ctx.account),
                _ => Owner::Foreign,
            };
            tracing::warn!(%service, owner = %owner.describe(), "Service appeared before it was created; left untouched");
            Ok(Applied::Conflict(owner))
        }
        Err(source) => Err(ReconcileError::Apply { service, source }),
    }
}
