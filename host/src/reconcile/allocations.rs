//! The forwarder ports in effect, read back from the upstream Services:
//! each port named `<scheme>-<urlport>` maps to the URL of the same scheme
//! and port in the Service's `bindery.dev/urls` annotation, and its
//! `targetPort` is the forwarder port. Every replica learns the allocation
//! this way; the leader reads it before allocating anything new, so a port
//! survives restarts and is never handed out twice.
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::EndpointUrl;
use crate::pipeline::project::{ANNOTATION_URLS, port_name};
use crate::pipeline::{Allocation, PoolKey};

/// Ports by projection id from this account's upstream Services in the
/// operator namespace. A port claimed twice keeps its first holder (by
/// Service name) and the other id is left to be allocated anew.
pub fn read(
    services: &[impl AsRef<Service>],
    account: &str,
    operator_namespace: &str,
) -> Allocation {
    let mut upstreams: Vec<&Service> = services
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| s.metadata.namespace.as_deref() == Some(operator_namespace))
        .filter(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP"))
        .collect();
    upstreams.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut out = Allocation::new();
    let mut taken = std::collections::BTreeSet::new();
    for svc in upstreams {
        for (url, port) in ports_of(svc) {
            let id = PoolKey {
                account: account.to_string(),
                url,
            }
            .id();
            if taken.insert(port) {
                out.insert(id, port);
            }
        }
    }
    out
}

/// The (URL, forwarder port) pairs one upstream Service carries.
fn ports_of(svc: &Service) -> Vec<(EndpointUrl, u16)> {
    let urls: Vec<EndpointUrl> = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_URLS))
        .map(|list| {
            list.split(',')
                .filter_map(|u| EndpointUrl::parse(u.trim()).ok())
                .collect()
        })
        .unwrap_or_default();
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    let mut out = Vec::new();
    for p in ports.into_iter().flatten() {
        let Some(IntOrString::Int(target)) = p.target_port else {
            continue;
        };
        let (Some(name), Ok(target)) = (p.name.as_deref(), u16::try_from(target)) else {
            continue;
        };
        let url = urls
            .iter()
            .find(|u| port_name(u) == name && i32::from(u.port) == p.port);
        if let Some(url) = url {
            out.push((url.clone(), target));
        }
    }
    out
}

#[cfg(test)]
#[path = "allocations_tests.rs"]
mod tests;
