//! The policy and every plugin it names, loaded as one numbered generation:
//! all of it or nothing, so a bad plugin never half-replaces a good one.
//! [`PolicyReloader`] follows the policy's files (and the registry tags of
//! its `oci://` plugins) and loads them again when they change; a failure
//! leaves the generation in effect alone.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Live;
use crate::changes::{Changes, WatchError};
use crate::plugin::{Generation, Runtime};
use crate::policy::LoadedPolicy;

/// A policy with its plugins loaded, numbered in load order.
#[derive(Clone)]
pub struct PolicyGeneration {
    pub generation: u64,
    pub loaded: LoadedPolicy,
    pub plugins: Generation,
}

/// Parse the policy and load every plugin it names, or say all that failed.
pub fn load_policy(
    runtime: &Runtime,
    policy: Option<&Path>,
) -> Result<(LoadedPolicy, Generation), Vec<String>> {
    let policy = crate::policy::load(policy).map_err(|e| vec![e.to_string()])?;
    let plugins = Generation::load(runtime, &policy)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok((policy, plugins))
}

/// Why the policy cannot be followed from the start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the policy did not load at start: {}", .0.join("; "))]
    Policy(Vec<String>),
    #[error(transparent)]
    Watch(#[from] WatchError),
}

/// The policy generation in effect and the files it comes from.
pub struct PolicyReloader {
    runtime: Arc<Runtime>,
    path: Option<PathBuf>,
    changes: Changes,
    live: Arc<Live>,
    /// In `run` the account is fixed for the process: its Lease and
    /// watches are the account's.
    fixed_account: Option<String>,
    current: Arc<PolicyGeneration>,
}

impl PolicyReloader {
    /// Load the policy at `path` (the built-in defaults when `None`),
    /// watching its files first so no change after the load is missed.
    pub fn start(
        runtime: Arc<Runtime>,
        path: Option<PathBuf>,
        live: Arc<Live>,
    ) -> Result<PolicyReloader, StartError> {
        let changes = Changes::watch(&path.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
        let (loaded, plugins) =
            load_policy(&runtime, path.as_deref()).map_err(StartError::Policy)?;
        let current = Arc::new(PolicyGeneration {
            generation: live.next_generation(),
            loaded,
            plugins,
        });
        // A moved registry tag of an `oci://` plugin reloads the policy
        // like a change of its files.
        runtime.artifacts().watch_tags(changes.trigger());
        Ok(PolicyReloader {
            runtime,
            path,
            changes,
            live,
            fixed_account: None,
            current,
        })
    }

    /// Refuse a reload that changes the account from the one in effect now.
    pub fn fix_account(&mut self) {
        self.fixed_account = Some(self.current.loaded.policy.account.clone());
    }

    pub fn current(&self) -> &Arc<PolicyGeneration> {
        &self.current
    }

    /// The first event of a change to the policy's files; cancel-safe, so
    /// it can wait in a `select!`. `None` when the watch ended.
    pub async fn changed(&mut self) -> Option<()> {
        self.changes.first().await
    }

    /// After [`changed`](Self::changed): wait for the change to settle and
    /// load the policy again, off the async threads. On success the new
    /// generation is in effect; on failure the previous one stays and the
    /// errors are returned.
    pub async fn reload(&mut self) -> Result<(), Vec<String>> {
        if self.changes.settle().await.is_none() {
            return Err(vec![
                "the policy's file watch ended; it is no longer reloaded".to_string(),
            ]);
        }
        let (rt, path) = (self.runtime.clone(), self.path.clone());
        let loaded = tokio::task::spawn_blocking(move || load_policy(&rt, path.as_deref()))
            .await
            .map_err(|e| vec![format!("policy reload task failed: {e}")])?;
        let (loaded, plugins) = loaded?;
        if let Some(account) = &self.fixed_account
            && loaded.policy.account != *account
        {
            return Err(vec![format!(
                "policy {} sets account {:?} but this replica serves {account:?}; the account cannot change while running: restart the operator",
                loaded.origin, loaded.policy.account
            )]);
        }
        let generation = self.live.next_generation();
        tracing::info!(generation, policy = %loaded.origin, "policy reloaded");
        self.current = Arc::new(PolicyGeneration {
            generation,
            loaded,
            plugins,
        });
        Ok(())
    }
}

/// The policy at `policy` and the catalog file at `catalog` through the
/// pipeline, once, as generation `generation`: what `bindery plan` shows,
/// without following any file.
pub fn once(
    runtime: &Runtime,
    catalog: &Path,
    policy: Option<&Path>,
    operator_namespace: &str,
    previous: &crate::pipeline::Allocation,
    generation: u64,
) -> Result<super::Snapshot, Vec<String>> {
    let (loaded, plugins) = load_policy(runtime, policy)?;
    let entries = crate::catalog::load_file(catalog).map_err(|e| vec![e.to_string()])?;
    let outcome = crate::pipeline::run(
        entries,
        &loaded.policy,
        &plugins,
        operator_namespace,
        previous,
    );
    Ok(super::Snapshot {
        policy: Arc::new(PolicyGeneration {
            generation,
            loaded,
            plugins,
        }),
        outcome,
        passed_at: std::time::SystemTime::now(),
    })
}
