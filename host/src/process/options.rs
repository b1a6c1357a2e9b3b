//! What a process is told, and why it may not start.
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

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
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Policy(#[from] crate::live::reload::StartError),
    #[error("the catalog file did not load at start: {0}")]
    Catalog(#[from] crate::catalog::file::FileSourceError),
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
