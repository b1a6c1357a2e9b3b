//! Projection: a forwarder port for every named pool, and the two Services
//! that make it reachable as `name.namespace:port`.
//!
//! - [`ports`]: stable, collision-free forwarder ports;
//! - [`services`]: the upstream and target Services of projections.
mod ports;
mod services;

pub use ports::allocate;
pub use services::{
    ANNOTATION_URLS, LABEL_ACCOUNT, LABEL_MANAGED_BY, LABEL_UPSTREAM, MANAGED_BY, POD_NAME_LABEL,
    port_name, services,
};

use super::rejection::{RejectKind, Rejection};
use super::types::{Allocation, Named, Projection};
use crate::plugin::convert::pairs;
use crate::policy::PortRange;

/// A forwarder port for every named pool, keeping the ports of `previous`;
/// pools left without one are rejected.
pub fn project(
    named: Vec<Named>,
    range: PortRange,
    previous: &Allocation,
) -> (Vec<Projection>, Vec<Rejection>) {
    let ids: Vec<String> = named.iter().map(|n| n.pool.key.id()).collect();
    let (ports, exhausted) = allocate(&ids, range, previous);
    let mut projections = Vec::new();
    let mut rejected = Vec::new();
    for n in named {
        let id = n.pool.key.id();
        match ports.get(&id) {
            Some(&port) => projections.push(Projection {
                metadata: pairs(&n.pool.first.metadata),
                key: n.pool.key,
                names: n.names,
                port,
                entries: n.pool.entries,
                upstreams: n.pool.upstreams,
            }),
            None => {
                debug_assert!(exhausted.contains(&id));
                for e in &n.pool.entries {
                    rejected.push(Rejection::new(
                        e,
                        Some(&n.pool.key.url.to_string()),
                        RejectKind::PortsExhausted,
                        format!(
                            "every forwarder port in {}-{} is taken: widen ports in the policy",
                            range.first, range.last
                        ),
                    ));
                }
            }
        }
    }
    (projections, rejected)
}

#[cfg(test)]
#[path = "project_tests.rs"]
mod tests;
