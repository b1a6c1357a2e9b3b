//! Direct mode: a ClusterIP Service without a selector in the URL's
//! namespace (one port per URL of the target's host), and EndpointSlices
//! owned by Bindery listing every pool member's upstream addresses, for
//! kube-proxy to balance with no Bindery process on the path.
//!
//! Each URL's addresses go into slices of their own, apart by address
//! family (an IPv4 and an IPv6 slice never mix) and by upstream port (a
//! slice's ports hold for all its endpoints), at most [`MAX_PER_SLICE`]
//! each, named after the Service so that a pass rewrites the same objects.
//! A DNS name is listed as what it resolves to; a name that does not
//! resolve, or an address an EndpointSlice cannot hold, is left out and
//! said. Each endpoint's conditions follow the active health check
//! ([`Reach::ready`]): `ready` and `serving` together, `terminating` never
//! (an upstream leaves its slice when it leaves the catalog; kube-proxy
//! keeps the connections it carries, in conntrack).
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::services::{ANNOTATION_URLS, LABEL_ACCOUNT, LABEL_MANAGED_BY, MANAGED_BY, port_name};
use crate::model::Scheme;
use crate::model::address::{Host, canonical, slice_ip_problem, split};
use crate::pipeline::types::{Projection, Reach};

/// Kubernetes' own label tying a slice to its Service.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Who manages a slice; never the EndpointSlice controller's value, so that
/// it leaves Bindery's slices alone.
pub const LABEL_SLICE_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const SLICE_MANAGED_BY: &str = "bindery.dev";
/// On each slice: the URL it lists the upstreams of.
pub const ANNOTATION_URL: &str = "bindery.dev/url";
/// The endpointslice controller's own cap per slice.
pub const MAX_PER_SLICE: usize = 100;

/// A direct target Service and its EndpointSlices.
#[derive(Clone, Debug)]
pub struct DirectObjects {
    pub service: Service,
    pub slices: Vec<EndpointSlice>,
}

/// What the slices of one direct URL list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Addresses listed.
    pub listed: usize,
    /// Of those, ready (their health check passes, or none is set).
    pub ready: usize,
    /// Upstreams left out, each with the reason and the fix.
    pub problems: Vec<String>,
}

/// The objects of every direct projection, by target Service sorted by
/// namespace and name, and what each URL (by projection id) lists.
pub fn direct(
    projections: &[Projection],
    reach: &Reach,
) -> (Vec<DirectObjects>, BTreeMap<String, Listing>) {
    let mut by_target: BTreeMap<(&str, &str), Vec<&Projection>> = BTreeMap::new();
    for p in projections.iter().filter(|p| p.port().is_none()) {
        let key = (
            p.names.target_namespace.as_str(),
            p.names.target_name.as_str(),
        );
        by_target.entry(key).or_default().push(p);
    }
    let mut objects = Vec::new();
    let mut listings = BTreeMap::new();
    for ((namespace, name), mut group) in by_target {
        group.sort_by_key(|p| p.key.url.port);
        let mut slices = Vec::new();
        for p in &group {
            let (addresses, listing) = addresses(p, reach);
            slices.extend(url_slices(p, addresses));
            listings.insert(p.key.id(), listing);
        }
        slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        objects.push(DirectObjects {
            service: service(namespace, name, &group),
            slices,
        });
    }
    (objects, listings)
}

/// The addresses (IP, port) one URL lists with their readiness, and what
/// was left out.
fn addresses(p: &Projection, reach: &Reach) -> (BTreeMap<SocketAddr, bool>, Listing) {
    let url = p.key.url.to_string();
    let mut listed: BTreeMap<SocketAddr, bool> = BTreeMap::new();
    let mut problems = Vec::new();
    for m in &p.upstreams {
        let address = m.upstream.address.as_str();
        let Some((host, port)) = split(address) else {
            problems.push(format!("{address} ({}) is not host:port", m.entry));
            continue;
        };
        let ips = match host {
            Host::Ip(ip) => vec![ip],
            Host::Name(_) => match reach.resolved.get(&(url.clone(), address.to_string())) {
                Some(Ok(ips)) => ips.iter().map(|ip| canonical(*ip)).collect(),
                Some(Err(e)) => {
                    problems.push(format!(
                        "{address} ({}) does not resolve: {e}; it is left out of the EndpointSlices until it does (check the name, or give an IP address)",
                        m.entry
                    ));
                    continue;
                }
                None => {
                    problems.push(format!("{address} ({}) is not resolved yet", m.entry));
                    continue;
                }
            },
        };
        for ip in ips {
            if let Some(why) = slice_ip_problem(ip) {
                problems.push(format!(
                    "{address} ({}) resolves to {ip}, which is left out: {why}",
                    m.entry
                ));
                continue;
            }
            let addr = SocketAddr::new(ip, port);
            let ready = reach
                .ready
                .get(&(url.clone(), addr))
                .copied()
                .unwrap_or(true);
            listed.insert(addr, ready);
        }
    }
    let listing = Listing {
        listed: listed.len(),
        ready: listed.values().filter(|r| **r).count(),
        problems,
    };
    (listed, listing)
}

/// One URL's slices: by family and upstream port, at most
/// [`MAX_PER_SLICE`] endpoints each, addresses in order.
fn url_slices(p: &Projection, addresses: BTreeMap<SocketAddr, bool>) -> Vec<EndpointSlice> {
    let mut groups: BTreeMap<(&str, u16), Vec<(IpAddr, bool)>> = BTreeMap::new();
    for (addr, ready) in addresses {
        let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
        groups
            .entry((family, addr.port()))
            .or_default()
            .push((addr.ip(), ready));
    }
    let mut out = Vec::new();
    for ((family, port), endpoints) in groups {
        for (chunk, list) in endpoints.chunks(MAX_PER_SLICE).enumerate() {
            let short = if family == "IPv4" { "v4" } else { "v6" };
            let name = format!(
                "{}-{}-{short}-{port}-{chunk}",
                p.names.target_name, p.key.url.port
            );
            out.push(slice(p, name, family, port, list));
        }
    }
    out
}

fn slice(
    p: &Projection,
    name: String,
    family: &str,
    port: u16,
    endpoints: &[(IpAddr, bool)],
) -> EndpointSlice {
    let labels = BTreeMap::from([
        (LABEL_SERVICE_NAME.to_string(), p.names.target_name.clone()),
        (
            LABEL_SLICE_MANAGED_BY.to_string(),
            SLICE_MANAGED_BY.to_string(),
        ),
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_ACCOUNT.to_string(), p.key.account.clone()),
    ]);
    let annotations = BTreeMap::from([(ANNOTATION_URL.to_string(), p.key.url.to_string())]);
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(p.names.target_namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        address_type: family.to_string(),
        endpoints: endpoints
            .iter()
            .map(|&(ip, ready)| Endpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(ready),
                    serving: Some(ready),
                    terminating: Some(false),
                }),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some(port_name(&p.key.url)),
            port: Some(i32::from(port)),
            protocol: Some("TCP".to_string()),
            app_protocol: app_protocol(p),
        }]),
    }
}

fn app_protocol(p: &Projection) -> Option<String> {
    (p.key.url.scheme == Scheme::Http).then(|| "http".to_string())
}

/// The selector-less ClusterIP Service of one target: a port per URL,
/// named as the slices' ports are, by which kube-proxy pairs them.
fn service(namespace: &str, name: &str, group: &[&Projection]) -> Service {
    let account = &group[0].key.account;
    let labels = BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_ACCOUNT.to_string(), account.clone()),
    ]);
    let urls = group
        .iter()
        .map(|p| p.key.url.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let annotations = BTreeMap::from([(ANNOTATION_URLS.to_string(), urls)]);
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            // Upstreams of either family are reachable in a dual-stack
            // cluster; a single-stack one gives its own family.
            ip_family_policy: Some("PreferDualStack".to_string()),
            ports: Some(
                group
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(port_name(&p.key.url)),
                        port: i32::from(p.key.url.port),
                        protocol: Some("TCP".to_string()),
                        app_protocol: app_protocol(p),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}

/// The readiness live slices list, by (URL, address): what a new Lease
/// holder starts from for an address it has not probed yet.
pub fn readiness<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> HashMap<(String, SocketAddr), bool> {
    let mut out = HashMap::new();
    for s in slices {
        let url = s
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_URL));
        let port = s
            .ports
            .iter()
            .flatten()
            .find_map(|p| p.port)
            .and_then(|p| u16::try_from(p).ok());
        let (Some(url), Some(port)) = (url, port) else {
            continue;
        };
        for e in &s.endpoints {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            for a in &e.addresses {
                if let Ok(ip) = a.parse::<IpAddr>() {
                    out.insert((url.clone(), SocketAddr::new(ip, port)), ready);
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "slices_tests.rs"]
mod tests;
