//! Selection: the selector plugins decide which endpoints are projected.
//! An endpoint is projected when any selector returns true.
use std::sync::Arc;

use super::rejection::{RejectKind, Rejection};
use super::types::{Allocation, PoolKey, Valid};
use crate::plugin::{SelectorPlugin, bindings, convert};

/// Ask the selectors about every endpoint. When they fail on an endpoint
/// whose URL was projected before (it has a port in `previous`), the last
/// good decision stands: it stays selected.
pub fn select(
    valid: Vec<Valid>,
    selectors: &[Arc<SelectorPlugin>],
    previous: &Allocation,
) -> (Vec<Valid>, Vec<Rejection>) {
    let mut selected = Vec::new();
    let mut rejected = Vec::new();
    for v in valid {
        // The WIT view, built once for every selector that sees it.
        let wit = convert::endpoint(&v.endpoint);
        let reject = |kind, message: String| {
            Rejection::new(&v.entry, Some(&v.endpoint.raw_url), kind, message)
        };
        match decide(&wit, selectors) {
            Ok(true) => selected.push(v),
            Ok(false) => rejected.push(reject(
                RejectKind::NotSelected,
                "no endpoint selector returned true".to_string(),
            )),
            Err(message) => {
                if previous.contains_key(&PoolKey::of(&v.endpoint).id()) {
                    tracing::warn!(entry = %v.entry, error = %message, "selector failed; keeping the last decision (selected)");
                    selected.push(v);
                } else {
                    rejected.push(reject(RejectKind::SelectorFailed, message));
                }
            }
        }
    }
    (selected, rejected)
}

/// True when any selector is; a failing selector does not stop the others,
/// but when none is true its error is the verdict.
fn decide(wit: &bindings::Endpoint, selectors: &[Arc<SelectorPlugin>]) -> Result<bool, String> {
    let mut first_error = None;
    for s in selectors {
        match s.select(wit) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    first_error.map_or(Ok(false), Err)
}
