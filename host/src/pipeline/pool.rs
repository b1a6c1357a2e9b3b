//! Pooling: endpoints of one account with the same URL become one projection
//! whose upstreams are all the members'.
use std::collections::BTreeMap;

use super::rejection::{RejectKind, Rejection};
use super::types::{Member, Pool, PoolKey, Valid};
use crate::plugin::convert::pairs;

/// Group selected endpoints by URL. An endpoint with `pooling: false` keeps
/// its URL to itself: the first entry in catalog order keeps the URL and
/// every other one is rejected. A pool has one mode, its first entry's: a
/// member that asks for the other mode is rejected, since one Service
/// cannot both front the forwarder and list the upstreams.
pub fn pool(selected: Vec<Valid>) -> (Vec<Pool>, Vec<Rejection>) {
    let mut groups: BTreeMap<PoolKey, Vec<Valid>> = BTreeMap::new();
    for s in selected {
        groups.entry(PoolKey::of(&s.endpoint)).or_default().push(s);
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
        let mode = members[0].endpoint.mode;
        let (same, other): (Vec<Valid>, Vec<Valid>) =
            members.into_iter().partition(|m| m.endpoint.mode == mode);
        members = same;
        for m in other {
            rejected.push(Rejection::new(
                &m.entry,
                Some(&m.endpoint.raw_url),
                RejectKind::ModeConflict,
                format!(
                    "{} is projected in {mode} mode by {}, and this entry's mode is {}; a pool has one mode (its first entry's in catalog order): set the same mode on every endpoint of the URL (or the policy's defaultMode), or use another URL",
                    key.url, members[0].entry, m.endpoint.mode
                ),
            ));
        }
        let upstreams = members
            .iter()
            .flat_map(|m| {
                let labels = pairs(&m.endpoint.labels);
                m.endpoint.upstreams.iter().map(move |u| Member {
                    entry: m.entry.clone(),
                    upstream: u.clone(),
                    labels: labels.clone(),
                })
            })
            .collect::<Vec<_>>();
        let first = members[0].endpoint.clone();
        let entries = members.into_iter().map(|m| m.entry).collect();
        pools.push(Pool {
            key,
            entries,
            upstreams,
            first,
        });
    }
    (pools, rejected)
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
