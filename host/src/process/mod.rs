//! The running process of `bindery run` and `bindery standalone`, wired in
//! one place: the plugin runtime, the policy and its reloads, the catalog
//! sources, the forwarder and the admin server, and the loop of passes
//! that ties them together. The two commands differ only in their
//! [`Mode`]: what a pass does with the catalog (the pipeline alone, or the
//! reconciler against a cluster) and how a refusal is reported.
//!
//! - [`options`]: what a process is told, and why it may not start;
//! - [`passes`]: the [`Mode`] interface and the loop of passes;
//! - [`rejections`]: what each pass left out, logged once in every mode;
//! - [`standalone`]: no cluster, every projection served;
//! - [`operator`]: a cluster, the reconciler under a Lease;
//! - [`configmaps`]: the policy from ConfigMaps, written to a directory;
//! - [`files`]: the limit on open files, raised at start.
pub mod configmaps;
mod files;
pub mod operator;
pub mod options;
pub mod passes;
mod rejections;
pub mod standalone;

use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use options::{Common, HubOptions, Operator, StartError};
pub use passes::Mode;

use crate::admin::{self, Admin};
use crate::catalog::Sources;
use crate::catalog::file::FileSource;
use crate::forward::Forwarder;
use crate::live::{Live, PolicyReloader};
use crate::metrics::ProcessMetrics;
use crate::plugin::Runtime;

/// The parts every mode runs with, started.
pub struct Process {
    pub live: Arc<Live>,
    pub forwarder: Arc<Forwarder>,
    pub policy: PolicyReloader,
    pub sources: Sources,
    /// Notified by every source and watch when what it holds changed.
    pub trigger: Arc<Notify>,
    pub stop: CancellationToken,
}

impl Process {
    /// Load the policy and the catalog file (its entries after those of
    /// `sources`, which notify `trigger`), then start the forwarder and the
    /// admin server (with `more` metrics beside the process's own). Must
    /// run inside the tokio runtime; everything it starts ends with `stop`.
    pub async fn start(
        common: &Common,
        more: impl FnOnce(&mut Registry),
        trigger: Arc<Notify>,
        mut sources: Sources,
        stop: CancellationToken,
    ) -> Result<Process, StartError> {
        let ProcessMetrics {
            mut registry,
            plugin,
            forward,
            reload,
        } = ProcessMetrics::default();
        more(&mut registry);
        match files::raise_limit() {
            Ok((before, now)) => tracing::debug!(before, now, "limit on open files"),
            Err(e) => tracing::warn!(error = %e, "cannot raise the limit on open files"),
        }
        let runtime = Runtime::new(common.runtime.clone(), plugin)
            .map_err(|e| StartError::Runtime(e.to_string()))?;
        let live = Arc::new(Live::new(reload));
        // The first load may pull plugins from a registry: off the async
        // threads.
        let (rt, path, l) = (Arc::new(runtime), common.policy.clone(), live.clone());
        let policy = tokio::task::spawn_blocking(move || PolicyReloader::start(rt, path, l))
            .await
            .map_err(|e| StartError::Runtime(format!("the first policy load failed: {e}")))??;
        if let Some(path) = &common.catalog {
            let file = FileSource::start(path, trigger.clone(), stop.clone())?;
            sources.push(Arc::new(file));
        }
        let forwarder = Forwarder::new(common.listen, forward).map_err(StartError::Forwarder)?;
        forwarder.start_maintenance();
        if let Some(addr) = common.admin {
            let listener = admin::bind(addr)
                .await
                .map_err(|source| StartError::Admin { addr, source })?;
            tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "admin server listening");
            let view = Admin {
                registry: Arc::new(registry),
                live: live.clone(),
                forwarder: forwarder.clone(),
            };
            tokio::spawn(admin::serve(listener, view, stop.clone()));
        }
        Ok(Process {
            live,
            forwarder,
            policy,
            sources,
            trigger,
            stop,
        })
    }

    /// Stop accepting and wait for the connections in flight, up to the
    /// policy's `drainSeconds`; returns whether they all finished.
    pub async fn drain(&self) -> bool {
        let grace = self.policy.current().loaded.policy.forwarding.drain();
        tracing::info!(?grace, "draining connections");
        let done = self.forwarder.drain(grace).await;
        if !done {
            tracing::warn!("drain timed out; closing the remaining connections");
        }
        done
    }
}
