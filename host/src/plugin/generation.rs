//! The plugins a policy names, loaded and configured together: a generation
//! is complete or not at all, so a bad plugin never half-replaces a good one.
use std::sync::Arc;

use super::bindings::naming::NamingContext;
use super::error::PluginError;
use super::naming::{NamingPlugin, NamingWorld};
use super::router::{RouterPlugin, RouterWorld};
use super::runtime::Runtime;
use super::selector::{SelectorPlugin, SelectorWorld};
use crate::policy::{LoadedPolicy, PluginRef};

/// Every plugin of one policy; clones share the instances.
#[derive(Clone)]
pub struct Generation {
    pub selectors: Vec<Arc<SelectorPlugin>>,
    pub naming: Arc<NamingPlugin>,
    pub router: Arc<RouterPlugin>,
}

impl Generation {
    /// Load every plugin the policy names; all failures are returned, not
    /// only the first.
    /// OCI references are fetched (blocking: call from a blocking thread);
    /// the tags fetched are the ones the registry refresh watches.
    pub fn load(runtime: &Runtime, loaded: &LoadedPolicy) -> Result<Generation, Vec<PluginError>> {
        runtime.artifacts().begin_load();
        let generation = Generation::load_all(runtime, loaded);
        runtime.artifacts().end_load(generation.is_ok());
        generation
    }

    fn load_all(runtime: &Runtime, loaded: &LoadedPolicy) -> Result<Generation, Vec<PluginError>> {
        let policy = &loaded.policy;
        let dir = &loaded.dir;
        let mut errors = Vec::new();
        let mut selectors = Vec::new();
        let expressions = policy.cel_expressions();
        if !expressions.is_empty() {
            let mut cel = PluginRef::builtin("cel");
            cel.config = serde_json::json!({ "expressions": expressions });
            match runtime.load::<SelectorWorld>(&cel, dir) {
                Ok(p) => selectors.push(p),
                Err(e) => errors.push(e),
            }
        }
        for r in &policy.selectors {
            match runtime.load::<SelectorWorld>(r, dir) {
                Ok(p) => selectors.push(p),
                Err(e) => errors.push(e),
            }
        }
        let naming = runtime
            .load::<NamingWorld>(&policy.naming, dir)
            .map_err(|e| errors.push(e))
            .ok();
        let router = runtime
            .load::<RouterWorld>(&policy.router, dir)
            .map_err(|e| errors.push(e))
            .ok();
        match (naming, router) {
            (Some(naming), Some(router)) if errors.is_empty() => Ok(Generation {
                selectors,
                naming,
                router,
            }),
            _ => Err(errors),
        }
    }
}

/// The context handed to the naming plugin.
pub fn naming_context(operator_namespace: &str, cluster_domain: &str) -> NamingContext {
    NamingContext {
        operator_namespace: operator_namespace.to_string(),
        cluster_domain: cluster_domain.to_string(),
    }
}
