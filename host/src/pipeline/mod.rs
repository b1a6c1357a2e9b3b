//! The stages chained: validate → account → select → pool → name → project.
//! Every stage hands on what it accepted and reports what it did not.
mod report;

pub use report::{RejectKind, Rejection};

use crate::catalog::Entry;
use crate::plugin::{Generation, naming_context};
use crate::policy::Policy;
use crate::project::{Allocation, Projection, allocate};

/// What became of a catalog.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Sorted by account and URL.
    pub projections: Vec<Projection>,
    pub rejections: Vec<Rejection>,
}

/// Run every stage. `previous` holds the ports already allocated.
pub fn run(
    entries: Vec<Entry>,
    policy: &Policy,
    plugins: &Generation,
    operator_namespace: &str,
    previous: &Allocation,
) -> Outcome {
    let (selected, mut rejections) =
        crate::select::select(entries, &policy.account, &plugins.selectors, previous);
    let (pools, rejected) = crate::pool::pool(selected);
    rejections.extend(rejected);
    let context = naming_context(operator_namespace, &policy.cluster_domain);
    let (named, rejected) = crate::name::name(pools, &plugins.naming, &context);
    rejections.extend(rejected);
    let ids: Vec<String> = named.iter().map(|n| n.pool.key.id()).collect();
    let (ports, exhausted) = allocate(&ids, policy.ports, previous);
    let mut projections = Vec::new();
    for n in named {
        let id = n.pool.key.id();
        match ports.get(&id) {
            Some(&port) => projections.push(Projection {
                key: n.pool.key,
                names: n.names,
                port,
                entries: n.pool.entries,
                upstreams: n.pool.upstreams,
                metadata: n.pool.wit.metadata,
            }),
            None => {
                debug_assert!(exhausted.contains(&id));
                for e in &n.pool.entries {
                    rejections.push(Rejection::new(
                        e,
                        Some(&n.pool.key.url.to_string()),
                        RejectKind::PortsExhausted,
                        format!(
                            "every forwarder port in {}-{} is taken: widen ports in the policy",
                            policy.ports.first, policy.ports.last
                        ),
                    ));
                }
            }
        }
    }
    Outcome {
        projections,
        rejections,
    }
}
