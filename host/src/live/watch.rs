//! Notice changes to the policy and catalog files. Each file's directory is
//! watched non-recursively: kubelet updates a mounted ConfigMap by swapping
//! the `..data` symlink, and a watch on the file itself dies after the first
//! swap. Events are debounced so one `kubectl apply` is one reload.
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet period after the last event before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct WatchError {
    pub path: PathBuf,
    pub source: notify::Error,
}

/// A running watch; dropping it stops watching.
pub struct Changes {
    _watcher: notify::RecommendedWatcher,
    rx: mpsc::UnboundedReceiver<()>,
}

impl Changes {
    /// Watch `paths` (files or directories).
    pub fn watch(paths: &[&Path]) -> Result<Changes, WatchError> {
        let mut dirs: HashSet<PathBuf> = HashSet::new();
        let mut names: HashSet<OsString> = HashSet::from([OsString::from("..data")]);
        for p in paths {
            if p.is_dir() {
                dirs.insert(p.to_path_buf());
            } else {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                dirs.insert(dir.to_path_buf());
                names.extend(p.file_name().map(OsString::from));
            }
        }
        let whole_dirs: Vec<PathBuf> = paths
            .iter()
            .filter(|p| p.is_dir())
            .map(|p| p.to_path_buf())
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if event.kind.is_access() {
                    return;
                }
                let relevant = event.paths.iter().any(|p| {
                    p.file_name().is_some_and(|n| names.contains(n))
                        || p.parent()
                            .is_some_and(|d| whole_dirs.iter().any(|w| w == d))
                });
                if relevant {
                    let _ = tx.send(());
                }
            })
            .map_err(|source| WatchError {
                path: PathBuf::from("."),
                source,
            })?;
        for dir in dirs {
            watcher
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError {
                    path: dir.clone(),
                    source,
                })?;
        }
        Ok(Changes {
            _watcher: watcher,
            rx,
        })
    }

    /// Wait for a change, then for `DEBOUNCE` of quiet. None when the watch ended.
    pub async fn next(&mut self) -> Option<()> {
        self.rx.recv().await?;
        loop {
            match tokio::time::timeout(DEBOUNCE, self.rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return None,
                Err(_) => return Some(()),
            }
        }
    }
}
