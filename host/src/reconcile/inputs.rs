//! The files a replica reads besides the cluster: the policy (a file, a
//! directory, or the ConfigMaps written to one) and `--catalog FILE`. Both
//! are watched; a reload that fails keeps what was in effect, is counted in
//! `bindery_reload_failed_total` and reported as an Event.
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;

use super::context::Context;
use super::events::reference;
use super::operator::{Options, RunError};
use super::world::PolicyGeneration;
use crate::catalog::Entry;
use crate::live::Live;
use crate::live::reload::load_policy;
use crate::live::watch::Changes;
use crate::plugin::Runtime;

pub struct Inputs {
    runtime: Arc<Runtime>,
    policy_path: Option<PathBuf>,
    catalog_path: Option<PathBuf>,
    pub policy: Arc<PolicyGeneration>,
    pub file: Vec<Entry>,
    pub changes: Changes,
    live: Arc<Live>,
    /// What a reload failure's Event regards.
    regarding: Option<ObjectReference>,
}

impl Inputs {
    /// Load both, watching before the first load so no change is missed.
    pub fn load(
        runtime: Arc<Runtime>,
        options: &Options,
        live: Arc<Live>,
    ) -> Result<Inputs, RunError> {
        let mut watched = Vec::new();
        watched.extend(options.policy.as_deref());
        watched.extend(options.catalog.as_deref());
        let changes = Changes::watch(&watched)?;
        let (loaded, plugins) =
            load_policy(&runtime, options.policy.as_deref()).map_err(RunError::Policy)?;
        let file = match &options.catalog {
            Some(path) => {
                crate::catalog::load_file(path).map_err(|e| RunError::Catalog(e.to_string()))?
            }
            None => Vec::new(),
        };
        let generation = live.next_generation();
        Ok(Inputs {
            runtime,
            policy_path: options.policy.clone(),
            catalog_path: options.catalog.clone(),
            policy: Arc::new(PolicyGeneration {
                generation,
                loaded,
                plugins,
            }),
            file,
            changes,
            live,
            regarding: regarding(options),
        })
    }

    /// Reload what changed; on failure keep the previous and report.
    pub async fn reload(&mut self, ctx: &Context) {
        let (rt, path) = (self.runtime.clone(), self.policy_path.clone());
        let mut errors = Vec::new();
        match tokio::task::spawn_blocking(move || load_policy(&rt, path.as_deref())).await {
            Ok(Ok((loaded, _))) if loaded.policy.account != ctx.account => errors.push(format!(
                "policy {} sets account {:?} but this replica serves {:?}; the account cannot change while running: restart the operator",
                loaded.origin, loaded.policy.account, ctx.account
            )),
            Ok(Ok((loaded, plugins))) => {
                let generation = self.live.next_generation();
                tracing::info!(generation, policy = %loaded.origin, "policy reloaded");
                self.policy = Arc::new(PolicyGeneration { generation, loaded, plugins });
            }
            Ok(Err(e)) => errors.extend(e),
            Err(e) => errors.push(format!("policy reload task failed: {e}")),
        }
        if let Some(path) = &self.catalog_path {
            match crate::catalog::load_file(path) {
                Ok(entries) => self.file = entries,
                Err(e) => errors.push(format!("{e}; the previous catalog file stays in effect")),
            }
        }
        if errors.is_empty() {
            ctx.events.forget("reload");
            return;
        }
        for e in &errors {
            tracing::error!(error = %e, "reload rejected; the previous generation stays in effect");
        }
        if let Some(regarding) = &self.regarding {
            let note = errors.join("; ");
            ctx.events
                .warn("reload", regarding, "ReloadFailed", note)
                .await;
        }
        self.live.failed(errors);
    }
}

/// Reload failures regard the first watched ConfigMap, else this pod.
fn regarding(options: &Options) -> Option<ObjectReference> {
    let ns = &options.operator_namespace;
    match options.watch_configmaps.first() {
        Some(name) => Some(reference("v1", "ConfigMap", ns, name, None)),
        None => std::env::var("POD_NAME")
            .ok()
            .map(|pod| reference("v1", "Pod", ns, &pod, None)),
    }
}
