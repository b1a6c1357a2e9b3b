//! The account filter: one installation serves one account, and other
//! accounts' endpoints are invisible to it.
use super::rejection::{RejectKind, Rejection};
use super::types::Valid;

/// This account's endpoints; the others reported as `OtherAccount`.
pub fn filter(valid: Vec<Valid>, account: &str) -> (Vec<Valid>, Vec<Rejection>) {
    let (ours, theirs): (Vec<Valid>, Vec<Valid>) = valid
        .into_iter()
        .partition(|v| v.endpoint.account == account);
    let rejected = theirs
        .into_iter()
        .map(|v| {
            Rejection::new(
                &v.entry,
                Some(&v.endpoint.raw_url),
                RejectKind::OtherAccount,
                format!(
                    "account {:?} is not this installation's ({account:?})",
                    v.endpoint.account
                ),
            )
        })
        .collect();
    (ours, rejected)
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
