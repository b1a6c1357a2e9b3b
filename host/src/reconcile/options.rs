//! What `bindery run` is told, and why it may not start.
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// How an operator replica runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub policy: Option<PathBuf>,
    pub operator_namespace: String,
    pub catalog: Option<PathBuf>,
    pub catalog_namespace: String,
    pub listen: IpAddr,
    pub admin: SocketAddr,
    pub watch_configmaps: Vec<String>,
    /// A pass at least this often, whatever the watches say.
    pub resync: Duration,
    pub lease_duration: Duration,
    /// Lease holder identity: the pod name, else the host name.
    pub identity: String,
    /// The plugin cache and how registries are reached.
    pub runtime: crate::plugin::RuntimeOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the policy did not load at start: {}", .0.join("; "))]
    Policy(Vec<String>),
    #[error("the catalog file did not load at start: {0}")]
    Catalog(String),
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
    #[error(transparent)]
    Watch(#[from] crate::live::watch::WatchError),
}
