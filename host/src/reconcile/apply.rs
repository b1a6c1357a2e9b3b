//! Server-side apply of the desired objects (Services, and EndpointSlices
//! in direct mode), each only when the live object differs in a field
//! Bindery sets, and never over an object that is not this installation's.
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::{Context, FIELD_MANAGER};
use super::diff::{differs, slice_differs};
use super::error::{ReconcileError, is_conflict, is_not_found};
use super::owned::Owner;

/// `(namespace, name)` of an object.
pub type Key = (String, String);

pub fn key<K: Resource>(object: &K) -> Key {
    let meta = object.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// A kind of object Bindery applies.
pub trait Object:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// For messages: `Service`, `EndpointSlice`.
    const KIND: &'static str;
    /// For messages about RBAC: the resource's plural.
    const RESOURCE: &'static str;

    /// True when applying `desired` would change `live`.
    fn differs(live: &Self, desired: &Self) -> bool;
}

impl Object for Service {
    const KIND: &'static str = "Service";
    const RESOURCE: &'static str = "services";

    fn differs(live: &Self, desired: &Self) -> bool {
        differs(live, desired)
    }
}

impl Object for EndpointSlice {
    const KIND: &'static str = "EndpointSlice";
    const RESOURCE: &'static str = "endpointslices.discovery.k8s.io";

    fn differs(live: &Self, desired: &Self) -> bool {
        slice_differs(live, desired)
    }
}

/// What became of one desired object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Already as desired: no request made.
    Unchanged,
    Written,
    /// An object of that name is someone else's: left untouched.
    Conflict(Owner),
    /// Its namespace does not exist (Bindery never creates one).
    NamespaceMissing,
    /// Left as it is on purpose for now, and why.
    Held(String),
    Failed(String),
}

impl Applied {
    pub fn is_ok(&self) -> bool {
        matches!(self, Applied::Unchanged | Applied::Written)
    }
}

/// Apply `desired`, `ctx.concurrency` at a time. `observed` holds this
/// account's objects of the kind from the watch cache; one missing there is
/// read first, so one that is not ours is seen before anything is sent.
pub async fn apply_all<K: Object>(
    ctx: &Context,
    desired: Vec<&K>,
    observed: &HashMap<Key, Arc<K>>,
    namespaces: &BTreeSet<String>,
) -> (HashMap<Key, Applied>, Vec<ReconcileError>) {
    let results: Vec<(Key, Result<Applied, ReconcileError>)> =
        futures::stream::iter(desired.into_iter().map(|object| {
            let k = key(object);
            let live = observed.get(&k).cloned();
            let ns_exists = namespaces.contains(&k.0);
            async move { (k, apply_one(ctx, object, live, ns_exists).await) }
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

async fn apply_one<K: Object>(
    ctx: &Context,
    object: &K,
    cached: Option<Arc<K>>,
    ns_exists: bool,
) -> Result<Applied, ReconcileError> {
    let (ns, name) = key(object);
    if !ctx.leader.is_leader() {
        return Ok(Applied::Failed(
            "this replica lost the Lease during the pass".to_string(),
        ));
    }
    if !ns_exists {
        return Ok(Applied::NamespaceMissing);
    }
    let full = format!("{ns}/{name}");
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let live = match cached {
        Some(s) => Some(s),
        None => api
            .get_opt(&name)
            .await
            .map_err(|source| ReconcileError::Read {
                kind: K::KIND,
                object: full.clone(),
                resource: K::RESOURCE,
                source,
            })?
            .map(Arc::new),
    };
    if let Some(live) = &live {
        match Owner::of(live.meta(), &ctx.account) {
            Owner::Us if !K::differs(live, object) => return Ok(Applied::Unchanged),
            Owner::Us => {}
            other => {
                ctx.metrics.conflicts.inc();
                tracing::warn!(kind = K::KIND, object = %full, owner = %other.describe(), "not ours; left untouched");
                return Ok(Applied::Conflict(other));
            }
        }
    }
    // Force only over an object known to be ours. A new one is applied
    // without force: should someone create one of that name between the
    // read and the apply, the fields they set conflict (409) instead of
    // being taken over, and it is read again to say whose it is.
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if live.is_some() {
        params = params.force();
    }
    match api.patch(&name, &params, &Patch::Apply(object)).await {
        Ok(_) => {
            ctx.metrics.applies.inc();
            tracing::info!(kind = K::KIND, object = %full, created = live.is_none(), "applied");
            Ok(Applied::Written)
        }
        // The namespace went away since the watch cache saw it.
        Err(e) if is_not_found(&e) => Ok(Applied::NamespaceMissing),
        Err(e) if live.is_none() && is_conflict(&e) => {
            ctx.metrics.conflicts.inc();
            let owner = match api.get_opt(&name).await {
                Ok(Some(s)) => Owner::of(s.meta(), &ctx.account),
                _ => Owner::Foreign,
            };
            tracing::warn!(kind = K::KIND, object = %full, owner = %owner.describe(), "appeared before it was created; left untouched");
            Ok(Applied::Conflict(owner))
        }
        Err(source) => Err(ReconcileError::Apply {
            kind: K::KIND,
            object: full,
            resource: K::RESOURCE,
            source,
        }),
    }
}
