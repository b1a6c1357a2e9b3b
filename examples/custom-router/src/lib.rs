//! A router that sends each tenant to its own upstreams.
//!
//! Every catalog entry of a pooled URL carries a label, `tenant: acme` say,
//! and every request names its tenant: by a header (`x-tenant: acme`), else
//! by a path prefix (`/acme/...`), else it belongs to the default tenant. The
//! request goes to the upstreams whose label matches, healthy ones first in
//! turn, and to no one else: a tenant without upstreams is rejected (HTTP
//! 403, with the reason in the body) rather than served by another tenant's.
//!
//! TCP connections carry no request head, so they go to the default
//! tenant's upstreams; without a default they are spread over every
//! upstream, like round-robin.
//!
//! Config (`router.config` in policy.yaml), every key optional:
//!
//! ```json
//! {"label": "tenant", "header": "x-tenant",
//!  "paths": {"/acme/": "acme", "/globex/": "globex"}, "default": "shared"}
//! ```
#![allow(
    clippy::too_many_arguments,
    reason = "the export shim wit-bindgen generates for `route` takes the connection record as 11 flat values"
)]
use std::cell::RefCell;
use std::collections::BTreeMap;

// Bindings for the `router` world of Bindery's WIT package; the path is
// relative to this Cargo.toml.
wit_bindgen::generate!({ world: "router", path: "../../wit" });

use bindery::plugin::log::{Level, log};
use bindery::plugin::routing;

#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The candidate label that names its tenant.
    #[serde(default = "default_label")]
    label: String,
    /// The request header that names the tenant; none to ignore headers.
    #[serde(default = "default_header")]
    header: Option<String>,
    /// Path prefix -> tenant, for requests without the header; the longest
    /// matching prefix wins.
    #[serde(default)]
    paths: BTreeMap<String, String>,
    /// The tenant of requests that name none, and of TCP connections.
    #[serde(default)]
    default: Option<String>,
}

fn default_label() -> String {
    "tenant".to_string()
}

fn default_header() -> Option<String> {
    Some("x-tenant".to_string())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            label: default_label(),
            header: default_header(),
            paths: BTreeMap::new(),
            default: None,
        }
    }
}

// Set by `configure`, once per instance before any `route` call.
thread_local! {
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

struct TenantRouter;

impl Guest for TenantRouter {
    fn configure(config: String) -> Result<(), String> {
        let config: Config = serde_json::from_str(&config).map_err(|e| {
            format!(
                "custom-router config is {{\"label\", \"header\", \"paths\": {{prefix: tenant}}, \"default\"}}, all optional: {e}"
            )
        })?;
        if config.label.is_empty() {
            return Err("custom-router: label must not be empty".to_string());
        }
        if let Some(prefix) = config.paths.keys().find(|p| !p.starts_with('/')) {
            return Err(format!(
                "custom-router: path prefix {prefix:?} must start with '/'"
            ));
        }
        CONFIG.with(|c| *c.borrow_mut() = config);
        Ok(())
    }

    fn route(connection: Connection, candidates: Vec<Candidate>) -> Decision {
        CONFIG.with(|c| route(&c.borrow(), connection.turn, &candidates))
    }
}

fn route(config: &Config, turn: u64, candidates: &[Candidate]) -> Decision {
    let Some(tenant) = tenant(config) else {
        // Nobody named a tenant and there is no default: any upstream.
        return Decision::Try(in_turn(candidates, turn, |_| true));
    };
    let mine = |i: usize| {
        routing::labels(i as u32)
            .unwrap_or_default()
            .iter()
            .any(|(k, v)| *k == config.label && *v == tenant)
    };
    let order = in_turn(candidates, turn, mine);
    if order.is_empty() {
        let reason = format!("no upstream for {} {tenant:?}", config.label);
        log(Level::Debug, &reason);
        return Decision::Reject(reason);
    }
    Decision::Try(order)
}

/// The tenant a request names (header, then path prefix), else the default.
fn tenant(config: &Config) -> Option<String> {
    if let Some(value) = config.header.as_deref().and_then(routing::header) {
        return Some(value.trim().to_string());
    }
    if let Some(path) = routing::path() {
        let longest = config
            .paths
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len());
        if let Some((_, tenant)) = longest {
            return Some(tenant.clone());
        }
    }
    config.default.clone()
}

/// Indices of the candidates `wanted` keeps: healthy ones first, starting at
/// this call's turn (the endpoint's, counted by the host across every
/// forwarder thread), then the unhealthy ones as a last resort.
fn in_turn(candidates: &[Candidate], turn: u64, wanted: impl Fn(usize) -> bool) -> Vec<u32> {
    let (mut healthy, sick): (Vec<u32>, Vec<u32>) = (0..candidates.len())
        .filter(|&i| wanted(i))
        .map(|i| i as u32)
        .partition(|&i| candidates[i as usize].healthy);
    if !healthy.is_empty() {
        let n = healthy.len();
        healthy.rotate_left((turn % n as u64) as usize);
    }
    healthy.extend(sick);
    healthy
}

export!(TenantRouter);
