//! Projection: a forwarder port for every named pool, and the two Services
//! that make it reachable as `name.namespace:port`.
mod ports;
mod services;

pub use ports::{Allocation, allocate};
pub use services::{
    ANNOTATION_URLS, LABEL_ACCOUNT, LABEL_MANAGED_BY, LABEL_UPSTREAM, MANAGED_BY, POD_NAME_LABEL,
    port_name, services,
};

use crate::name::Names;
use crate::pool::{Member, PoolKey};

/// Everything the reconciler and the forwarder need about one URL.
#[derive(Clone, Debug)]
pub struct Projection {
    pub key: PoolKey,
    pub names: Names,
    /// The forwarder port this URL is served on.
    pub port: u16,
    pub entries: Vec<String>,
    pub upstreams: Vec<Member>,
    /// Metadata of the pool's first entry (per-endpoint forwarder settings
    /// such as `health.bindery.dev/type` live here).
    pub metadata: Vec<(String, String)>,
}

#[cfg(test)]
mod ports_tests;
