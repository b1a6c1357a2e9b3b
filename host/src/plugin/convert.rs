//! From the host's model to the WIT types handed to guests.
use super::bindings::{Endpoint, Scheme, Upstream};
use crate::model;

/// The WIT view of a validated endpoint, built once per endpoint for every
/// selector that sees it.
pub fn endpoint(e: &model::Endpoint) -> Endpoint {
    pool_endpoint(e, e.upstreams.iter())
}

/// What the naming plugin sees of a pool: its first endpoint with every
/// member's upstreams.
pub fn pool_endpoint<'a>(
    first: &model::Endpoint,
    upstreams: impl Iterator<Item = &'a model::Upstream>,
) -> Endpoint {
    Endpoint {
        url: first.raw_url.clone(),
        scheme: scheme(first.url.scheme),
        name: first.url.name.clone(),
        namespace: first.url.namespace.clone(),
        port: first.url.port,
        account: first.account.clone(),
        labels: pairs(&first.labels),
        metadata: pairs(&first.metadata),
        upstreams: upstreams.map(upstream).collect(),
    }
}

fn upstream(u: &model::Upstream) -> Upstream {
    Upstream {
        address: u.address.clone(),
        weight: u.weight,
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
