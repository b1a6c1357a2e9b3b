//! Pooling: endpoints of one account with the same URL become one projection
//! whose upstreams are all the members'.
use std::collections::BTreeMap;

use crate::model::{EndpointUrl, Upstream};
use crate::pipeline::{RejectKind, Rejection};
use crate::plugin::bindings;
use crate::select::Selected;

/// Account and canonical URL.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    pub account: String,
    pub url: EndpointUrl,
}

impl PoolKey {
    /// `account/url`, the stable identity of a projection.
    pub fn id(&self) -> String {
        format!("{}/{}", self.account, self.url)
    }
}

/// One upstream with the labels of the endpoint it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub entry: String,
    pub upstream: Upstream,
    pub labels: Vec<(String, String)>,
}

/// A pooled URL.
#[derive(Clone, Debug)]
pub struct Pool {
    pub key: PoolKey,
    /// Entries in the pool, in catalog order.
    pub entries: Vec<String>,
    pub upstreams: Vec<Member>,
    /// What the naming plugin sees: the first member with every member's
    /// upstreams.
    pub wit: bindings::Endpoint,
}

/// Group selected endpoints by URL. An endpoint with `pooling: false` keeps
/// its URL to itself: the first entry in catalog order keeps the URL and
/// every other one is rejected.
pub fn pool(selected: Vec<Selected>) -> (Vec<Pool>, Vec<Rejection>) {
    let mut groups: BTreeMap<PoolKey, Vec<Selected>> = BTreeMap::new();
    for s in selected {
        let key = PoolKey {
            account: s.endpoint.account.clone(),
            url: s.endpoint.url.clone(),
        };
        groups.entry(key).or_default().push(s);
    }
    let mut pools = Vec::new();
    let mut rejected = Vec::new();
    for (key, mut members) in groups {
        if members.len() > 1 && members.iter().any(|m| !m.endpoint.pooling) {
            let first = members.remove(0);
            for m in members {
                let who = if m.endpoint.pooling {
                    &first.entry
                } else {
                    &m.entry
                };
                rejected.push(Rejection::new(
                    &m.entry,
                    Some(&m.endpoint.raw_url),
                    RejectKind::PoolConflict,
                    format!(
                        "{} is already projected by {}, and {who} sets pooling: false; set pooling: true on both to pool them, or use another URL",
                        key.url, first.entry
                    ),
                ));
            }
            members = vec![first];
        }
        let upstreams = members
            .iter()
            .flat_map(|m| {
                let labels = crate::plugin::convert::pairs(&m.endpoint.labels);
                m.endpoint.upstreams.iter().map(move |u| Member {
                    entry: m.entry.clone(),
                    upstream: u.clone(),
                    labels: labels.clone(),
                })
            })
            .collect::<Vec<_>>();
        let mut wit = members[0].wit.clone();
        wit.upstreams = upstreams
            .iter()
            .map(|m| bindings::Upstream {
                address: m.upstream.address.clone(),
                weight: m.upstream.weight,
            })
            .collect();
        let entries = members.into_iter().map(|m| m.entry).collect();
        pools.push(Pool {
            key,
            entries,
            upstreams,
            wit,
        });
    }
    (pools, rejected)
}
