//! The JSON documents of `/v1/plugins` and `/v1/endpoints`.
use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::forward::Forwarder;
use crate::live::{Failure, Live};
use crate::plugin::{ArtifactInfo, PluginInfo};

#[derive(Serialize)]
pub struct Plugins {
    pub generation: Option<u64>,
    pub policy: Option<String>,
    pub plugins: Vec<PluginView>,
    /// The latest reload that did not take effect, if the one after it has
    /// not succeeded yet.
    pub last_failure: Option<Failure>,
}

#[derive(Serialize)]
pub struct PluginView {
    pub name: String,
    pub world: String,
    pub sha256: String,
    pub generation: u64,
    pub config: serde_json::Value,
    /// For an `oci://` plugin: the reference, the manifest digest it
    /// resolved to and where the component came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactInfo>,
}

pub fn plugins(live: &Live) -> Plugins {
    let current = live.current();
    let mut plugins = Vec::new();
    if let Some(s) = &current {
        let view = |i: &PluginInfo| PluginView {
            name: i.name.to_string(),
            world: i.world.to_string(),
            sha256: i.sha256.clone(),
            generation: s.generation(),
            config: serde_json::from_str(&i.config).unwrap_or(serde_json::Value::Null),
            artifact: i.artifact.clone(),
        };
        plugins.extend(s.policy.plugins.selectors.iter().map(|p| view(p.info())));
        plugins.push(view(s.policy.plugins.naming.info()));
        plugins.push(view(s.policy.plugins.router.info()));
    }
    Plugins {
        generation: current.as_ref().map(|s| s.generation()),
        policy: current.as_ref().map(|s| s.policy.loaded.origin.clone()),
        plugins,
        last_failure: live.last_failure(),
    }
}

#[derive(Serialize)]
pub struct Endpoints {
    pub generation: Option<u64>,
    pub endpoints: Vec<EndpointView>,
    pub rejected: Vec<RejectedView>,
}

#[derive(Serialize)]
pub struct EndpointView {
    pub url: String,
    pub account: String,
    /// `proxy` or `direct`.
    pub mode: String,
    /// Whether this process's forwarder carries its connections: never in
    /// direct mode, where kube-proxy balances over its EndpointSlices.
    pub served: bool,
    /// Proxy mode: the ClusterIP Service fronting the forwarder.
    pub upstream_service: Option<String>,
    pub target_service: String,
    /// Proxy mode: the forwarder port.
    pub port: Option<u16>,
    pub listening: Option<String>,
    pub entries: Vec<String>,
    /// Proxy mode: each upstream; direct mode on the Lease holder: each
    /// address its slices list (`healthy` is what they list as ready).
    pub upstreams: Vec<UpstreamView>,
}

#[derive(Serialize)]
pub struct UpstreamView {
    pub address: String,
    pub healthy: bool,
    pub active: u32,
}

#[derive(Serialize)]
pub struct RejectedView {
    pub entry: String,
    pub url: Option<String>,
    pub reason: String,
    pub message: String,
}

pub fn endpoints(live: &Live, forwarder: &Forwarder) -> Endpoints {
    let Some(s) = live.current() else {
        return Endpoints {
            generation: None,
            endpoints: vec![],
            rejected: vec![],
        };
    };
    let serving: HashMap<String, String> = forwarder
        .serving()
        .into_iter()
        .map(|s| (s.url, s.addr.to_string()))
        .collect();
    let live_upstreams: HashMap<String, Vec<UpstreamView>> = forwarder
        .probe_targets()
        .into_iter()
        .map(|t| {
            let now = Instant::now();
            let ups = t
                .upstreams
                .iter()
                .map(|u| UpstreamView {
                    address: u.address.clone(),
                    healthy: u.healthy(now),
                    active: u.active(),
                })
                .collect();
            (t.url, ups)
        })
        .collect();
    let direct = forwarder.direct().states();
    let endpoints = s
        .outcome
        .projections
        .iter()
        .map(|p| {
            let url = p.key.url.to_string();
            let proxy = p.port().is_some();
            let upstreams = if proxy {
                live_upstreams.get(&url).map_or_else(Vec::new, |u| {
                    u.iter()
                        .map(|u| UpstreamView {
                            address: u.address.clone(),
                            healthy: u.healthy,
                            active: u.active,
                        })
                        .collect()
                })
            } else {
                direct.get(&url).map_or_else(Vec::new, |list| {
                    list.iter()
                        .map(|a| UpstreamView {
                            address: a.address.clone(),
                            healthy: a.healthy,
                            active: 0,
                        })
                        .collect()
                })
            };
            EndpointView {
                account: p.key.account.clone(),
                mode: p.mode().to_string(),
                served: serving.contains_key(&url),
                upstream_service: proxy.then(|| p.names.upstream.clone()),
                target_service: p.names.target(),
                port: p.port(),
                listening: serving.get(&url).cloned(),
                entries: p.entries.clone(),
                upstreams,
                url,
            }
        })
        .collect();
    let rejected = s
        .outcome
        .rejections
        .iter()
        .map(|r| RejectedView {
            entry: r.entry.clone(),
            url: r.url.clone(),
            reason: r.kind.reason().to_string(),
            message: r.message.clone(),
        })
        .collect();
    Endpoints {
        generation: Some(s.generation()),
        endpoints,
        rejected,
    }
}
