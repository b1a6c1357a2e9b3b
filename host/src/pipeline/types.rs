//! What the stages hand each other, from a validated endpoint to a
//! projection. A leaf: every stage uses it, it uses none of them.
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use crate::catalog::Mode;
use crate::model::{Endpoint, EndpointUrl, Upstream};

/// An endpoint that passed validation (and, further on, the account
/// filter and a selector), with the catalog entry it came from.
#[derive(Clone, Debug)]
pub struct Valid {
    pub entry: String,
    pub endpoint: Endpoint,
}

/// Account and canonical URL: what pools endpoints.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    pub account: String,
    pub url: EndpointUrl,
}

impl PoolKey {
    pub fn of(endpoint: &Endpoint) -> PoolKey {
        PoolKey {
            account: endpoint.account.clone(),
            url: endpoint.url.clone(),
        }
    }

    /// `account/url`, the stable identity of a projection.
    pub fn id(&self) -> String {
        format!("{}/{}", self.account, self.url)
    }
}

/// One upstream with the labels of the endpoint it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub entry: String,
    pub upstream: Upstream,
    pub labels: Vec<(String, String)>,
}

/// A pooled URL.
#[derive(Clone, Debug)]
pub struct Pool {
    pub key: PoolKey,
    /// Entries in the pool, in catalog order.
    pub entries: Vec<String>,
    /// Every member's upstreams, in catalog order.
    pub upstreams: Vec<Member>,
    /// The pool's first endpoint: its labels and metadata stand for the
    /// pool's.
    pub first: Endpoint,
}

/// The Services of a projection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Names {
    pub upstream: String,
    pub target_name: String,
    pub target_namespace: String,
}

impl Names {
    pub fn target(&self) -> String {
        format!("{}/{}", self.target_namespace, self.target_name)
    }
}

/// A pool with its checked names.
#[derive(Clone, Debug)]
pub struct Named {
    pub pool: Pool,
    pub names: Names,
}

/// Forwarder ports by projection id (`account/url`).
pub type Allocation = BTreeMap<String, u16>;

/// Which way a projection's connections go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plane {
    /// Proxy mode: through the forwarder, on this port of every replica.
    Forwarder(u16),
    /// Direct mode: straight to the upstreams, balanced by kube-proxy.
    Direct,
}

/// Everything the reconciler and the forwarder need about one URL.
#[derive(Clone, Debug)]
pub struct Projection {
    pub key: PoolKey,
    pub names: Names,
    pub plane: Plane,
    pub entries: Vec<String>,
    pub upstreams: Vec<Member>,
    /// Metadata of the pool's first entry (per-endpoint forwarder settings
    /// such as `health.bindery.dev/type` live here).
    pub metadata: Vec<(String, String)>,
}

impl Projection {
    /// The forwarder port of a proxy projection.
    pub fn port(&self) -> Option<u16> {
        match self.plane {
            Plane::Forwarder(port) => Some(port),
            Plane::Direct => None,
        }
    }

    pub fn mode(&self) -> Mode {
        match self.plane {
            Plane::Forwarder(_) => Mode::Proxy,
            Plane::Direct => Mode::Direct,
        }
    }
}

/// What Bindery knows now of the upstreams of direct projections: what
/// each DNS name resolves to, and each address's active health check. Kept
/// by the process (the Lease holder probes), read by the pure
/// [`slices`](super::project::slices) builder.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// By (URL, upstream address as written): the IPs a DNS name resolved
    /// to, or why it did not resolve. A name not here has not been
    /// resolved yet.
    pub resolved: HashMap<(String, String), Result<Vec<IpAddr>, String>>,
    /// By (URL, address): `false` once the active health check failed
    /// (`unhealthyAfter` probes in a row); an address not here is ready.
    pub ready: HashMap<(String, SocketAddr), bool>,
}
