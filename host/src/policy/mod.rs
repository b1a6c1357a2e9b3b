//! `policy.yaml`: the account, the selectors, the plugins and their config.
//!
//! `--policy PATH` takes the file itself or a directory laid out like the
//! mounted ConfigMap (`policy.yaml` plus `*.wasm`); plugin files are looked up
//! beside the policy.
mod forwarding;
mod load;
mod plugin_ref;

pub use forwarding::{Forwarding, HealthCheck, ProbeKind};
pub use load::{LoadedPolicy, PolicyError, load, parse_str};
pub use plugin_ref::{Limits, PluginRef, PluginSource};

use serde::Deserialize;

use crate::catalog::{EndpointSpec, Mode};

/// The parsed policy, with defaults filled in.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// The account this installation serves.
    #[serde(default = "default_account")]
    pub account: String,
    /// `cluster.local` or `svc.cluster.local`: both give
    /// `<upstream>.<operator-ns>.svc.cluster.local`.
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
    /// CEL expressions (built-in selector); an endpoint is projected when any
    /// is true. Missing or empty means `["true"]`, unless `selectors` is set.
    #[serde(default)]
    pub endpoint_selectors: Vec<String>,
    /// Selector plugins besides the CEL expressions.
    #[serde(default)]
    pub selectors: Vec<PluginRef>,
    #[serde(default = "default_naming")]
    pub naming: PluginRef,
    #[serde(default = "default_router")]
    pub router: PluginRef,
    /// Forwarder ports allocated to URLs.
    #[serde(default)]
    pub ports: PortRange,
    /// Timeouts, limits and health checks of the forwarder (the health
    /// checks and DNS re-resolution also decide direct mode's endpoints).
    #[serde(default)]
    pub forwarding: Forwarding,
    /// The mode of an entry that names none: `proxy` or `direct`.
    #[serde(default)]
    pub default_mode: Mode,
}

/// An inclusive range of forwarder ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            first: 20000,
            last: 29999,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            account: default_account(),
            cluster_domain: default_cluster_domain(),
            endpoint_selectors: Vec::new(),
            selectors: Vec::new(),
            naming: default_naming(),
            router: default_router(),
            ports: PortRange::default(),
            forwarding: Forwarding::default(),
            default_mode: Mode::default(),
        }
    }
}

impl Policy {
    /// The CEL expressions in effect.
    pub fn cel_expressions(&self) -> Vec<String> {
        if self.endpoint_selectors.is_empty() && self.selectors.is_empty() {
            vec!["true".to_string()]
        } else {
            self.endpoint_selectors.clone()
        }
    }

    /// `<name>.<namespace>.svc.<domain>` for a Service.
    pub fn service_fqdn(&self, name: &str, namespace: &str) -> String {
        let domain = self.cluster_domain.trim_end_matches('.');
        let domain = domain.strip_prefix("svc.").unwrap_or(domain);
        format!("{name}.{namespace}.svc.{domain}")
    }
}

fn default_account() -> String {
    EndpointSpec::default_account()
}

fn default_cluster_domain() -> String {
    "cluster.local".to_string()
}

fn default_naming() -> PluginRef {
    PluginRef::builtin("naming-default")
}

fn default_router() -> PluginRef {
    PluginRef::builtin("round-robin")
}
