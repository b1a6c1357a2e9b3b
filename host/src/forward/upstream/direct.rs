//! The upstreams of direct projections: no connection of theirs passes
//! through Bindery, so only the active health checks and DNS decide what
//! their EndpointSlices list. The Lease holder tracks them (one prober,
//! one writer; the other replicas track none) with the forwarder's own
//! prober and resolver ([`super::health::maintain`]):
//!
//! - every address a slice lists (an IP literal, or each address a name
//!   resolves to) is probed on its own, so one dead address of a name is
//!   not listed ready with the others;
//! - a name is resolved when first seen, before its slices are written, and
//!   again every `resolveSeconds`;
//! - an address first seen starts as its first probe finds it, or as the
//!   live slices list it (a new Lease holder keeps its predecessor's
//!   verdicts), or ready when no check is set;
//! - a flip of a probe or a changed answer notifies the process, whose
//!   next pass writes the slices that changed.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::health::{ProbeTarget, check_for, probe};
use super::registry::Registry;
use super::state::Upstream;
use crate::model::address::{Host, canonical, split};
use crate::pipeline::{Projection, Reach};
use crate::policy::{Forwarding, HealthCheck, ProbeKind};

/// One direct URL as tracked.
struct Tracked {
    check: HealthCheck,
    resolve_every: Duration,
    /// Its upstreams given as DNS names, by address as written.
    names: Vec<Arc<Upstream>>,
    /// Every address its slices list.
    addrs: Vec<Arc<Upstream>>,
}

/// The direct URLs the Lease holder tracks.
#[derive(Default)]
pub struct Tracker {
    registry: Arc<Registry>,
    tracked: Mutex<HashMap<String, Tracked>>,
    changed: Mutex<Option<Arc<Notify>>>,
}

/// One tracked address for `/v1/endpoints`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressState {
    pub address: String,
    pub healthy: bool,
}

impl Tracker {
    pub fn new(registry: Arc<Registry>) -> Tracker {
        Tracker {
            registry,
            ..Tracker::default()
        }
    }

    /// Who to tell when a probe or an answer changes a slice.
    pub fn notify(&self, changed: Arc<Notify>) {
        *self.changed.lock().unwrap_or_else(|p| p.into_inner()) = Some(changed);
    }

    /// Track exactly `direct` from now on (the empty list: stop) and say
    /// what is known of their upstreams. `seeds` holds the readiness the
    /// live slices list, by (URL, address).
    pub async fn track(
        &self,
        direct: &[Projection],
        settings: &Forwarding,
        seeds: &HashMap<(String, SocketAddr), bool>,
    ) -> Reach {
        let mut next: HashMap<String, Tracked> = HashMap::new();
        let mut fresh_names = Vec::new();
        for p in direct.iter().filter(|p| p.port().is_none()) {
            let url = p.key.url.to_string();
            let mut names = Vec::new();
            for m in &p.upstreams {
                if let Some((Host::Name(_), _)) = split(&m.upstream.address) {
                    let (u, new) = self.registry.get(&url, &m.upstream.address);
                    if new || (u.addrs().is_empty() && u.resolve_failure().is_none()) {
                        fresh_names.push(u.clone());
                    }
                    names.push(u);
                }
            }
            next.insert(
                url,
                Tracked {
                    check: check_for(&settings.health_check, &p.metadata),
                    resolve_every: settings.resolve_every(),
                    names,
                    addrs: Vec::new(),
                },
            );
        }
        // Names seen for the first time are resolved before their slices
        // are written, all at once.
        let changed = self.changed();
        futures::future::join_all(
            fresh_names
                .into_iter()
                .map(|u| super::dns::resolve(u, changed.clone())),
        )
        .await;
        let mut first_probes = Vec::new();
        for p in direct.iter().filter(|p| p.port().is_none()) {
            let url = p.key.url.to_string();
            let Some(t) = next.get_mut(&url) else {
                continue;
            };
            let mut addrs: Vec<SocketAddr> = Vec::new();
            for m in &p.upstreams {
                match split(&m.upstream.address) {
                    Some((Host::Ip(ip), port)) => addrs.push(SocketAddr::new(ip, port)),
                    Some((Host::Name(_), _)) => {
                        let (u, _) = self.registry.get(&url, &m.upstream.address);
                        addrs.extend(
                            u.addrs()
                                .into_iter()
                                .map(|a| SocketAddr::new(canonical(a.ip()), a.port())),
                        );
                    }
                    None => {}
                }
            }
            addrs.sort();
            addrs.dedup();
            for a in addrs {
                let (u, new) = self.registry.get(&url, &a.to_string());
                if new {
                    match seeds.get(&(url.clone(), a)) {
                        Some(&ready) => {
                            u.set_probe_healthy(ready);
                        }
                        None if t.check.kind != ProbeKind::None => {
                            first_probes.push((u.clone(), t.check.clone()));
                        }
                        None => {}
                    }
                }
                t.addrs.push(u);
            }
        }
        futures::future::join_all(first_probes.into_iter().map(|(u, check)| async move {
            let ok = probe(&u, &check).await;
            u.set_probe_healthy(ok);
        }))
        .await;
        let reach = reach(&next);
        *self.tracked.lock().unwrap_or_else(|p| p.into_inner()) = next;
        reach
    }

    fn changed(&self) -> Option<Arc<Notify>> {
        self.changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// For the maintenance task: each URL's names (resolved, not probed)
    /// and its addresses (probed).
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        let changed = self.changed();
        let tracked = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (url, t) in tracked.iter() {
            out.push(ProbeTarget {
                url: url.clone(),
                check: HealthCheck {
                    kind: ProbeKind::None,
                    ..t.check.clone()
                },
                resolve_every: t.resolve_every,
                upstreams: t.names.clone(),
                changed: changed.clone(),
            });
            out.push(ProbeTarget {
                url: url.clone(),
                check: t.check.clone(),
                resolve_every: t.resolve_every,
                upstreams: t.addrs.clone(),
                changed: changed.clone(),
            });
        }
        out
    }

    /// Each tracked URL's addresses and their health.
    pub fn states(&self) -> HashMap<String, Vec<AddressState>> {
        let now = std::time::Instant::now();
        let tracked = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        tracked
            .iter()
            .map(|(url, t)| {
                let states = t
                    .addrs
                    .iter()
                    .map(|u| AddressState {
                        address: u.address.clone(),
                        healthy: u.healthy(now),
                    })
                    .collect();
                (url.clone(), states)
            })
            .collect()
    }
}

/// What the slices builder reads of the tracked URLs.
fn reach(tracked: &HashMap<String, Tracked>) -> Reach {
    let now = std::time::Instant::now();
    let mut out = Reach::default();
    for (url, t) in tracked {
        for u in &t.names {
            let addrs = u.addrs();
            let answer = if !addrs.is_empty() {
                Some(Ok(addrs.iter().map(|a| a.ip()).collect()))
            } else {
                u.resolve_failure().map(Err)
            };
            if let Some(answer) = answer {
                out.resolved
                    .insert((url.clone(), u.address.clone()), answer);
            }
        }
        for u in &t.addrs {
            if let Some(a) = u.addrs().first() {
                out.ready.insert((url.clone(), *a), u.healthy(now));
            }
        }
    }
    out
}
