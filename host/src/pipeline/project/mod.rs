//! Projection: a forwarder port for every named pool in proxy mode, and the
//! objects that make each reachable as `name.namespace:port`.
//!
//! - [`ports`]: stable, collision-free forwarder ports (proxy mode only);
//! - [`services`]: the upstream and target Services of proxy projections;
//! - [`slices`]: the Service and EndpointSlices of direct projections;
//! - [`ignored`]: what direct mode does not do that an entry asks for.
pub mod ignored;
mod ports;
mod services;
pub mod slices;

pub use ignored::ignored;
pub use ports::allocate;
pub use services::{
    ANNOTATION_URLS, LABEL_ACCOUNT, LABEL_MANAGED_BY, LABEL_UPSTREAM, MANAGED_BY, POD_NAME_LABEL,
    port_name, services,
};
pub use slices::{DirectObjects, Listing, direct, readiness};

use super::rejection::{RejectKind, Rejection};
use super::types::{Allocation, Named, Plane, Projection};
use crate::catalog::Mode;
use crate::plugin::convert::pairs;
use crate::policy::PortRange;

/// A forwarder port for every named pool in proxy mode, keeping the ports
/// of `previous`; pools left without one are rejected. Direct pools take no
/// port: the forwarder is not on their path.
pub fn project(
    named: Vec<Named>,
    range: PortRange,
    previous: &Allocation,
) -> (Vec<Projection>, Vec<Rejection>) {
    let ids: Vec<String> = named
        .iter()
        .filter(|n| n.pool.first.mode == Mode::Proxy)
        .map(|n| n.pool.key.id())
        .collect();
    let (ports, exhausted) = allocate(&ids, range, previous);
    let mut projections = Vec::new();
    let mut rejected = Vec::new();
    for n in named {
        let id = n.pool.key.id();
        let plane = match n.pool.first.mode {
            Mode::Direct => Some(Plane::Direct),
            Mode::Proxy => ports.get(&id).map(|&port| Plane::Forwarder(port)),
        };
        match plane {
            Some(plane) => projections.push(Projection {
                metadata: pairs(&n.pool.first.metadata),
                key: n.pool.key,
                names: n.names,
                plane,
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
