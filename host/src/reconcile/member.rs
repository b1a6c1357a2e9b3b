//! Where and as whom a member of a hub writes there: the hub's client and
//! namespace, the cluster name and the Lease that holds it. Apart from
//! [`super::hub`], which writes, so that the pass's [`super::Context`] can
//! hold it.
use std::sync::Arc;

use super::lease::Leadership;

/// Where and as whom this member writes on the hub.
pub struct Hub {
    pub client: kube::Client,
    pub namespace: String,
    /// `--cluster-name`.
    pub cluster: String,
    /// The Lease holding the cluster name, held by this member's identity.
    pub membership: Arc<Leadership>,
}

impl Hub {
    /// The field manager of this member's entries.
    pub fn field_manager(&self) -> String {
        format!("bindery-{}", self.cluster)
    }

    /// The Lease name that holds a cluster name on the hub.
    pub fn lease_name(cluster: &str) -> String {
        format!("bindery-member-{cluster}")
    }
}
