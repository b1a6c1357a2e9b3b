//! The pipeline: a catalog in, projections and rejections out. Its stages,
//! in order, each handing on what it accepted and reporting what it did
//! not:
//!
//! - [`validate`]: the field rules, entry by entry;
//! - [`account`]: this installation's account only;
//! - [`select`]: the selector plugins;
//! - [`pool`]: endpoints of one account with the same URL;
//! - [`name`]: the naming plugin, its answers checked;
//! - [`project`]: forwarder ports and the Services of each projection.
//!
//! What they hand each other is in [`types`], what they reject in
//! [`rejection`]; neither imports a stage.
pub mod account;
pub mod name;
pub mod pool;
pub mod project;
pub mod rejection;
pub mod select;
pub mod types;
pub mod validate;

use std::collections::HashMap;

pub use rejection::{RejectKind, Rejection};
pub use types::{Allocation, Names, Plane, PoolKey, Projection, Reach};

use crate::catalog::Entry;
use crate::plugin::{Generation, naming_context};
use crate::policy::Policy;

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
    let position: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    let (valid, mut rejections) = validate::validate(entries, policy.default_mode);
    let (ours, rejected) = account::filter(valid, &policy.account);
    rejections.extend(rejected);
    let (selected, rejected) = select::select(ours, &plugins.selectors, previous);
    rejections.extend(rejected);
    // Each entry meets at most one of the stages above: reported in
    // catalog order.
    rejections.sort_by_key(|r| position.get(&r.entry).copied());
    let (pools, rejected) = pool::pool(selected);
    rejections.extend(rejected);
    let context = naming_context(operator_namespace, &policy.cluster_domain);
    let (named, rejected) = name::name(pools, &plugins.naming, &context);
    rejections.extend(rejected);
    let (projections, rejected) = project::project(named, policy.ports, previous);
    rejections.extend(rejected);
    Outcome {
        projections,
        rejections,
    }
}
