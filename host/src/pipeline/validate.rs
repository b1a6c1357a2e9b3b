//! Validation: every entry checked against the field rules on its own, so
//! one bad entry never hides the others.
use super::rejection::{RejectKind, Rejection};
use super::types::Valid;
use crate::catalog::{Entry, Mode};
use crate::model::Endpoint;

/// The entries that pass every rule; the others with all their broken rules.
/// `default_mode` is the policy's, for entries that name no mode.
pub fn validate(entries: Vec<Entry>, default_mode: Mode) -> (Vec<Valid>, Vec<Rejection>) {
    let mut valid = Vec::new();
    let mut rejected = Vec::new();
    for entry in entries {
        let reject =
            |message: String| Rejection::new(&entry.id, entry.url(), RejectKind::Invalid, message);
        let spec = match &entry.spec {
            Ok(spec) => spec,
            Err(e) => {
                rejected.push(reject(e.message.clone()));
                continue;
            }
        };
        match Endpoint::validate(spec, default_mode) {
            Ok(endpoint) => valid.push(Valid {
                entry: entry.id,
                endpoint,
            }),
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                rejected.push(reject(list.join("; ")));
            }
        }
    }
    (valid, rejected)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
