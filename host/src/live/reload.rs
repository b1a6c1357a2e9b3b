//! Build a generation from the files: parse the policy, compile (cached by
//! hash), instantiate and configure every plugin, read the catalog and run
//! the pipeline. All of it or nothing: any error leaves the caller's current
//! generation alone.
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::Snapshot;
use crate::plugin::{Generation, Runtime};
use crate::policy::LoadedPolicy;
use crate::project::Allocation;

/// Where a generation comes from.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub catalog: PathBuf,
    pub policy: Option<PathBuf>,
    pub operator_namespace: String,
}

impl Inputs {
    /// The files whose change triggers a reload.
    pub fn watched(&self) -> Vec<&Path> {
        let mut v = vec![self.catalog.as_path()];
        v.extend(self.policy.as_deref());
        v
    }
}

/// Build generation `generation`, keeping the ports of `previous`.
pub fn build(
    runtime: &Runtime,
    inputs: &Inputs,
    previous: &Allocation,
    generation: u64,
) -> Result<Snapshot, Vec<String>> {
    let (policy, plugins) = load_policy(runtime, inputs.policy.as_deref())?;
    let entries = crate::catalog::load_file(&inputs.catalog).map_err(|e| vec![e.to_string()])?;
    let outcome = crate::pipeline::run(
        entries,
        &policy.policy,
        &plugins,
        &inputs.operator_namespace,
        previous,
    );
    Ok(Snapshot {
        generation,
        policy,
        plugins,
        outcome,
        loaded_at: SystemTime::now(),
    })
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

/// The ports a snapshot allocated, to keep across reloads.
pub fn allocation(snapshot: Option<&Snapshot>) -> Allocation {
    snapshot
        .map(|s| {
            s.outcome
                .projections
                .iter()
                .map(|p| (p.key.id(), p.port))
                .collect()
        })
        .unwrap_or_default()
}
