//! Whether a live Service or EndpointSlice already has what Bindery would
//! apply: only the fields Bindery sets are compared, so defaults the
//! apiserver fills in (clusterIP, sessionAffinity, a target port equal to
//! the port) and what others add (labels, annotations) never cause a
//! write. A resync that finds nothing to change makes no request; a slice
//! is written again only when an endpoint or its readiness changed.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};

/// True when applying `desired` would change `live`.
pub fn differs(live: &Service, desired: &Service) -> bool {
    !(contains(&live.metadata.labels, &desired.metadata.labels)
        && contains(&live.metadata.annotations, &desired.metadata.annotations)
        && spec_matches(live.spec.as_ref(), desired.spec.as_ref()))
}

fn contains(
    live: &Option<BTreeMap<String, String>>,
    desired: &Option<BTreeMap<String, String>>,
) -> bool {
    let Some(desired) = desired else { return true };
    let empty = BTreeMap::new();
    let live = live.as_ref().unwrap_or(&empty);
    desired.iter().all(|(k, v)| live.get(k) == Some(v))
}

fn spec_matches(live: Option<&ServiceSpec>, desired: Option<&ServiceSpec>) -> bool {
    let (Some(live), Some(desired)) = (live, desired) else {
        return live.is_none() && desired.is_none();
    };
    let same = |l: &Option<String>, d: &Option<String>| d.is_none() || l == d;
    same(&live.type_, &desired.type_)
        && same(&live.external_name, &desired.external_name)
        && same(&live.ip_family_policy, &desired.ip_family_policy)
        && desired.selector.is_none() == live.selector.is_none()
        && (desired.selector.is_none() || live.selector == desired.selector)
        && ports_match(
            live.ports.as_deref().unwrap_or_default(),
            desired.ports.as_deref().unwrap_or_default(),
        )
}

/// The same ports by name; each desired field set equals the live one.
fn ports_match(live: &[ServicePort], desired: &[ServicePort]) -> bool {
    live.len() == desired.len()
        && desired.iter().all(|d| {
            live.iter().any(|l| {
                l.name == d.name
                    && l.port == d.port
                    && (d.target_port.is_none() || l.target_port == d.target_port)
                    && (d.protocol.is_none() || l.protocol == d.protocol)
                    && l.app_protocol == d.app_protocol
            })
        })
}

/// True when applying the slice `desired` would change `live`.
pub fn slice_differs(live: &EndpointSlice, desired: &EndpointSlice) -> bool {
    let endpoint = |e: &Endpoint| {
        let c = e.conditions.clone().unwrap_or_default();
        (e.addresses.clone(), c.ready, c.serving, c.terminating)
    };
    let ports = |s: &EndpointSlice| {
        s.ports
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.name.clone(),
                    p.port,
                    p.protocol.clone(),
                    p.app_protocol.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    !(contains(&live.metadata.labels, &desired.metadata.labels)
        && contains(&live.metadata.annotations, &desired.metadata.annotations)
        && live.address_type == desired.address_type
        && live
            .endpoints
            .iter()
            .map(endpoint)
            .eq(desired.endpoints.iter().map(endpoint))
        && ports(live) == ports(desired))
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
