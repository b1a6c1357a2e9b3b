//! From the host's model to the WIT types handed to guests.
use super::bindings::{Endpoint, Scheme, Upstream};
use crate::model;

/// The WIT view of a validated endpoint; built once and shared by every
/// selector and the naming plugin.
pub fn endpoint(e: &model::Endpoint) -> Endpoint {
    Endpoint {
        url: e.raw_url.clone(),
        scheme: scheme(e.url.scheme),
        name: e.url.name.clone(),
        namespace: e.url.namespace.clone(),
        port: e.url.port,
        account: e.account.clone(),
        labels: pairs(&e.labels),
        metadata: pairs(&e.metadata),
        upstreams: e
            .upstreams
            .iter()
            .map(|u| Upstream {
                address: u.address.clone(),
                weight: u.weight,
            })
            .collect(),
    }
}

pub fn scheme(s: model::Scheme) -> Scheme {
    match s {
        model::Scheme::Http => Scheme::Http,
        model::Scheme::Tcp => Scheme::Tcp,
    }
}

pub fn pairs(m: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
