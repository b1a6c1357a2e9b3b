//! Direct projections applied: each target Service with its EndpointSlices,
//! in the order that keeps the name answering and never lists endpoints
//! for a Service that is not Bindery's.
//!
//! - A target Service that is already ours (direct, or the ExternalName of
//!   proxy mode switching to direct): its slices first, then the Service.
//!   kube-proxy has the endpoints when the Service turns ClusterIP, so a
//!   switch from proxy mode refuses no connection for want of them.
//! - A target Service not there yet: the Service first, created without
//!   force, then its slices only if it applied. Should someone create a
//!   Service of that name meanwhile, the create conflicts and no slice
//!   ever lists endpoints for theirs.
//! - A Service someone else owns gets neither: `Conflict`.
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::apply::{Applied, Key, apply_all, key};
use super::context::Context;
use super::error::ReconcileError;
use super::owned::Owner;
use crate::pipeline::project::DirectObjects;

/// What applying the direct objects did, by Service and by slice.
#[derive(Default)]
pub struct States {
    pub services: HashMap<Key, Applied>,
    pub slices: HashMap<Key, Applied>,
}

/// Apply every direct target's Service and slices.
pub async fn apply(
    ctx: &Context,
    objects: &[DirectObjects],
    services: &HashMap<Key, Arc<Service>>,
    slices: &HashMap<Key, Arc<EndpointSlice>>,
    namespaces: &BTreeSet<String>,
    errors: &mut Vec<ReconcileError>,
) -> States {
    let ours = |o: &&DirectObjects| {
        services
            .get(&key(&o.service))
            .is_some_and(|s| Owner::of(&s.metadata, &ctx.account) == Owner::Us)
    };
    let (existing, new): (Vec<&DirectObjects>, Vec<&DirectObjects>) =
        objects.iter().partition(ours);
    let mut states = States::default();

    // The slices of Services already ours, and the Services not there yet.
    let early_slices: Vec<&EndpointSlice> = existing.iter().flat_map(|o| &o.slices).collect();
    let new_services: Vec<&Service> = new.iter().map(|o| &o.service).collect();
    let ((s1, e1), (v1, e2)) = futures::join!(
        apply_all(ctx, early_slices, slices, namespaces),
        apply_all(ctx, new_services, services, namespaces),
    );
    states.slices.extend(s1);
    states.services.extend(v1);
    errors.extend(e1.into_iter().chain(e2));

    // Then the Services whose slices are in place, and the slices of the
    // Services just created.
    let listed = |o: &&&DirectObjects| {
        o.slices
            .iter()
            .all(|s| states.slices.get(&key(s)).is_some_and(Applied::is_ok))
    };
    let late_services: Vec<&Service> = existing.iter().filter(listed).map(|o| &o.service).collect();
    let created = |o: &&&DirectObjects| {
        states
            .services
            .get(&key(&o.service))
            .is_some_and(Applied::is_ok)
    };
    let late_slices: Vec<&EndpointSlice> =
        new.iter().filter(created).flat_map(|o| &o.slices).collect();
    let ((v2, e1), (s2, e2)) = futures::join!(
        apply_all(ctx, late_services, services, namespaces),
        apply_all(ctx, late_slices, slices, namespaces),
    );
    states.services.extend(v2);
    states.slices.extend(s2);
    errors.extend(e1.into_iter().chain(e2));
    states
}
