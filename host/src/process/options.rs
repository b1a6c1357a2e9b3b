//! What a process is told, and why it may not start.
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::http::HttpOptions;
use crate::reconcile::GuardSettings;

/// What `bindery run` and `bindery standalone` share.
#[derive(Clone, Debug)]
pub struct Common {
    /// `policy.yaml`, or a directory with it and the plugins; the
    /// built-in defaults when `None`.
    pub policy: Option<PathBuf>,
    /// A catalog file, followed as it changes.
    pub catalog: Option<PathBuf>,
    /// Where the forwarder listens.
    pub listen: IpAddr,
    /// The admin server; none when `None`.
    pub admin: Option<SocketAddr>,
    /// The plugin cache and how registries are reached.
    pub runtime: crate::plugin::RuntimeOptions,
}

/// How an operator replica runs, besides [`Common`].
#[derive(Clone, Debug)]
pub struct Operator {
    pub operator_namespace: String,
    pub catalog_namespace: String,
    /// ConfigMaps of the operator namespace that hold the policy; they
    /// replace `Common::policy`.
    pub watch_configmaps: Vec<String>,
    /// A pass at least this often, whatever the watches say.
    pub resync: Duration,
    pub lease_duration: Duration,
    /// Lease holder identity: the pod name, else the host name.
    pub identity: String,
    /// Whether the `BoundEndpoint` objects of `catalog_namespace` are a
    /// source (a member may take its catalog from the hub alone).
    pub local_catalog: bool,
    /// A hub cluster's `BoundEndpoint`s as a source, and this member's
    /// state written there.
    pub hub: Option<HubOptions>,
    /// `--catalog-url`.
    pub catalog_url: Option<HttpOptions>,
    /// When a pass's deletions wait.
    pub guard: GuardSettings,
}

/// A member of a hub.
#[derive(Clone)]
pub struct HubOptions {
    /// A client of the hub's apiserver (`--hub-kubeconfig`).
    pub client: kube::Client,
    /// The account's namespace there.
    pub namespace: String,
    /// This member's name there: the key of its status entries.
    pub cluster: String,
    /// Of the Lease holding the cluster name on the hub.
    pub lease_duration: Duration,
}

impl std::fmt::Debug for HubOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubOptions")
            .field("namespace", &self.namespace)
            .field("cluster", &self.cluster)
            .field("lease_duration", &self.lease_duration)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Policy(#[from] crate::live::reload::StartError),
    #[error("the catalog file did not load at start: {0}")]
    Catalog(#[from] crate::catalog::file::FileSourceError),
    #[error(transparent)]
    CatalogUrl(#[from] crate::catalog::http::HttpSourceError),
    #[error("plugin runtime: {0}")]
    Runtime(String),
    #[error("cannot start the forwarder threads: {0}")]
    Forwarder(#[source] std::io::Error),
    #[error("cannot serve the admin endpoint on {addr}: {source}; use --admin with a free address")]
    Admin {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the ConfigMap directory {path}: {source}")]
    ConfigMapDir {
        path: PathBuf,
        source: std::io::Error,
    },
}
