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
    tx: mpsc::UnboundedSender<()>,
    rx: mpsc::UnboundedReceiver<()>,
}

impl Changes {
    /// Watch `paths` (files or directories).
    pub fn watch(paths: &[&Path]) -> Result<Changes, WatchError> {
        let filter = Filter::new(paths);
        let dirs = filter.dirs();
        let (tx, rx) = mpsc::unbounded_channel();
        let events = tx.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if !event.kind.is_access() && event.paths.iter().any(|p| filter.matches(p)) {
                    let _ = events.send(());
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
            tx,
            rx,
        })
    }

    /// A change from elsewhere than the files (a plugin's registry tag
    /// moved): reloads through the same debounce and path.
    pub fn trigger(&self) -> impl Fn() + Send + Sync + 'static {
        let tx = self.tx.clone();
        move || {
            let _ = tx.send(());
        }
    }

    /// Wait for a change, then for `DEBOUNCE` of quiet. None when the watch ended.
    pub async fn next(&mut self) -> Option<()> {
        self.first().await?;
        self.settle().await
    }

    /// The first event of a change; cancel-safe, so it can wait in a
    /// `select!` beside other branches without losing an event. Follow it
    /// with [`settle`](Self::settle).
    pub async fn first(&mut self) -> Option<()> {
        self.rx.recv().await
    }

    /// Wait for `DEBOUNCE` of quiet after a first event.
    pub async fn settle(&mut self) -> Option<()> {
        loop {
            match tokio::time::timeout(DEBOUNCE, self.rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return None,
                Err(_) => return Some(()),
            }
        }
    }
}

/// Which paths matter: the watched files by name (and kubelet's `..data`),
/// and in a policy directory `policy.yaml` and `*.wasm`, never logs or
/// editors' temporary files beside them. Directories are compared
/// canonical, as backends report event paths under the resolved directory.
struct Filter {
    files: Vec<(PathBuf, OsString)>,
    policy_dirs: Vec<PathBuf>,
}

impl Filter {
    fn new(paths: &[&Path]) -> Filter {
        let canonical = |d: &Path| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf());
        let mut files = Vec::new();
        let mut policy_dirs = Vec::new();
        for p in paths {
            if p.is_dir() {
                policy_dirs.push(canonical(p));
            } else if let Some(name) = p.file_name() {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                files.push((canonical(dir), name.to_os_string()));
            }
        }
        Filter { files, policy_dirs }
    }

    fn dirs(&self) -> HashSet<PathBuf> {
        let files = self.files.iter().map(|(d, _)| d.clone());
        files.chain(self.policy_dirs.iter().cloned()).collect()
    }

    fn matches(&self, path: &Path) -> bool {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        if name == "..data" {
            return true;
        }
        let in_policy_dir = self.policy_dirs.iter().any(|d| d == dir);
        let policy_file = name == "policy.yaml" || name.to_string_lossy().ends_with(".wasm");
        (in_policy_dir && policy_file) || self.files.iter().any(|(d, n)| d == dir && n == name)
    }
}
