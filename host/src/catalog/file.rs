//! `--catalog FILE` as a source: read at start, read again whenever the
//! file changes (a ConfigMap volume's symlink swap included). A read that
//! fails keeps the entries of the last good one and is reported.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::entry::Entry;
use super::format::{CatalogError, load_file};
use super::source::Source;
use crate::changes::{Changes, WatchError};

/// Why the file cannot be followed from the start.
#[derive(Debug, thiserror::Error)]
pub enum FileSourceError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Watch(#[from] WatchError),
}

pub struct FileSource {
    origin: String,
    last: Arc<Mutex<Last>>,
}

#[derive(Default)]
struct Last {
    entries: Vec<Entry>,
    failure: Option<String>,
}

impl FileSource {
    /// Read `path` (a failure here is an error: nothing was read yet) and
    /// follow its changes until `stop`, notifying `trigger` after each
    /// read. Must run inside the tokio runtime.
    pub fn start(
        path: &Path,
        trigger: Arc<Notify>,
        stop: CancellationToken,
    ) -> Result<FileSource, FileSourceError> {
        // Watched before the first read, so no change after it is missed.
        let changes = Changes::watch(&[path])?;
        let entries = load_file(path)?;
        let last = Arc::new(Mutex::new(Last {
            entries,
            failure: None,
        }));
        tokio::spawn(follow(
            path.to_path_buf(),
            changes,
            last.clone(),
            trigger,
            stop,
        ));
        Ok(FileSource {
            origin: format!("file {}", path.display()),
            last,
        })
    }
}

async fn follow(
    path: PathBuf,
    mut changes: Changes,
    last: Arc<Mutex<Last>>,
    trigger: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            change = changes.next() => if change.is_none() {
                tracing::warn!(path = %path.display(), "file watch ended; the catalog file is no longer reloaded");
                return;
            },
        }
        let read = load_file(&path);
        {
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            match read {
                Ok(entries) => {
                    tracing::info!(path = %path.display(), entries = entries.len(), "catalog file reloaded");
                    *last = Last {
                        entries,
                        failure: None,
                    };
                }
                Err(e) => {
                    let e = format!("{e}; the previous catalog file stays in effect");
                    tracing::error!(path = %path.display(), error = %e, "catalog file reload rejected");
                    last.failure = Some(e);
                }
            }
        }
        trigger.notify_one();
    }
}

impl Source for FileSource {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn entries(&self) -> Vec<Entry> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .clone()
    }

    fn failure(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failure
            .clone()
    }
}
