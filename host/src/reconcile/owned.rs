//! Which Services and EndpointSlices are Bindery's: the labels, never the
//! name. Owner references cannot cross namespaces, so labels are the only
//! mark.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::pipeline::project::{
    LABEL_ACCOUNT, LABEL_MANAGED_BY, MANAGED_BY,
    slices::{LABEL_SLICE_MANAGED_BY, SLICE_MANAGED_BY},
};

/// The label selector of this account's Services.
pub fn selector(account: &str) -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_ACCOUNT}={account}")
}

/// The label selector of this account's EndpointSlices. The
/// EndpointSlice controller copies a Service's labels onto the slices it
/// manages for it (those of proxy mode's upstream Services), so the
/// account's labels alone would take in slices that are not Bindery's.
pub fn slice_selector(account: &str) -> String {
    format!(
        "{},{LABEL_SLICE_MANAGED_BY}={SLICE_MANAGED_BY}",
        selector(account)
    )
}

/// Who a Service belongs to, as far as Bindery is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Managed by this installation (this account).
    Us,
    /// Managed by Bindery for another account.
    OtherAccount(String),
    /// Not managed by Bindery at all.
    Foreign,
}

impl Owner {
    pub fn of(meta: &ObjectMeta, account: &str) -> Owner {
        let labels = meta.labels.as_ref();
        let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        if label(LABEL_MANAGED_BY) != Some(MANAGED_BY) {
            return Owner::Foreign;
        }
        // A slice another controller manages, with a Service's labels
        // copied onto it.
        if label(LABEL_SLICE_MANAGED_BY).is_some_and(|m| m != SLICE_MANAGED_BY) {
            return Owner::Foreign;
        }
        match label(LABEL_ACCOUNT) {
            Some(a) if a == account => Owner::Us,
            Some(a) => Owner::OtherAccount(a.to_string()),
            None => Owner::Foreign,
        }
    }

    /// For a condition message: who holds the Service instead.
    pub fn describe(&self) -> String {
        match self {
            Owner::Us => "this installation".to_string(),
            Owner::OtherAccount(a) => format!("Bindery account {a:?}"),
            Owner::Foreign => format!("someone else (no {LABEL_MANAGED_BY}={MANAGED_BY} label)"),
        }
    }
}
