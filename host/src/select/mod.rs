//! Validation, the account filter and the selector plugins.
use std::sync::Arc;

use crate::catalog::Entry;
use crate::model::Endpoint;
use crate::pipeline::{RejectKind, Rejection};
use crate::plugin::{SelectorPlugin, bindings, convert};
use crate::project::Allocation;

/// An endpoint that passed validation, the account filter and a selector.
#[derive(Clone, Debug)]
pub struct Selected {
    pub entry: String,
    pub endpoint: Endpoint,
    /// The WIT view, built once for every plugin that sees it.
    pub wit: bindings::Endpoint,
}

/// Validate every entry, keep this account's, and ask the selectors. When
/// the selectors fail on an endpoint whose URL was projected before (it has a
/// port in `previous`), the last good decision stands: it stays selected.
pub fn select(
    entries: Vec<Entry>,
    account: &str,
    selectors: &[Arc<SelectorPlugin>],
    previous: &Allocation,
) -> (Vec<Selected>, Vec<Rejection>) {
    let mut selected = Vec::new();
    let mut rejected = Vec::new();
    for entry in entries {
        let url = entry.url().map(str::to_string);
        let reject =
            |kind, message: String| Rejection::new(&entry.id, url.as_deref(), kind, message);
        let spec = match &entry.spec {
            Ok(spec) => spec,
            Err(e) => {
                rejected.push(reject(RejectKind::Invalid, e.message.clone()));
                continue;
            }
        };
        let endpoint = match Endpoint::validate(spec) {
            Ok(e) => e,
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                rejected.push(reject(RejectKind::Invalid, list.join("; ")));
                continue;
            }
        };
        if endpoint.account != account {
            rejected.push(reject(
                RejectKind::OtherAccount,
                format!(
                    "account {:?} is not this installation's ({account:?})",
                    endpoint.account
                ),
            ));
            continue;
        }
        let wit = convert::endpoint(&endpoint);
        match decide(&wit, selectors) {
            Ok(true) => selected.push(Selected {
                entry: entry.id.clone(),
                endpoint,
                wit,
            }),
            Ok(false) => rejected.push(reject(
                RejectKind::NotSelected,
                "no endpoint selector returned true".to_string(),
            )),
            Err(message) => {
                let id = crate::pool::PoolKey {
                    account: endpoint.account.clone(),
                    url: endpoint.url.clone(),
                }
                .id();
                if previous.contains_key(&id) {
                    tracing::warn!(entry = %entry.id, error = %message, "selector failed; keeping the last decision (selected)");
                    selected.push(Selected {
                        entry: entry.id.clone(),
                        endpoint,
                        wit,
                    });
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
