//! Where a running process gets its catalog: sources behind one small
//! interface, merged in a fixed order. A source keeps the entries of its
//! last good read: a failure is reported, never taken for an empty
//! catalog.
use std::sync::Arc;

use super::entry::Entry;

/// One place endpoints come from: the catalog file, the `BoundEndpoint`
/// objects of a namespace, and so on. A source notifies the process's
/// trigger when what it holds changes.
pub trait Source: Send + Sync {
    /// Names the source in logs and reports, e.g. `file catalog.yaml`.
    fn origin(&self) -> &str;
    /// The entries of the last good read, in the source's own order.
    fn entries(&self) -> Vec<Entry>;
    /// Why the latest read failed, while the last good entries stand.
    fn failure(&self) -> Option<String>;
    /// Whether a read has succeeded since the process started. Until then
    /// the source's entries are not its catalog but nothing at all, and
    /// what it projected before a restart is not known to be gone.
    fn synced(&self) -> bool {
        true
    }
}

/// Every source of a process, in the order their entries are merged.
#[derive(Clone, Default)]
pub struct Sources(Vec<Arc<dyn Source>>);

impl Sources {
    pub fn push(&mut self, source: Arc<dyn Source>) {
        self.0.push(source);
    }

    /// The merged catalog: each source's entries, sources in order.
    pub fn entries(&self) -> Vec<Entry> {
        self.0.iter().flat_map(|s| s.entries()).collect()
    }

    /// The origins of the sources not read yet since the process started.
    pub fn unsynced(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|s| !s.synced())
            .map(|s| s.origin().to_string())
            .collect()
    }

    /// Every source, in merge order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Source>> {
        self.0.iter()
    }

    /// `origin: why` of every source whose latest read failed.
    pub fn failures(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|s| s.failure().map(|f| format!("{}: {f}", s.origin())))
            .collect()
    }
}
