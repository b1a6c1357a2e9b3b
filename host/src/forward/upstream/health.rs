//! Active health checks of upstreams, and the task that runs them beside
//! DNS re-resolution.
//!
//! The policy's `forwarding.healthCheck` applies to every endpoint; an
//! endpoint overrides it with catalog metadata:
//!
//! | metadata key | value |
//! |---|---|
//! | `health.bindery.dev/type` | `none`, `tcp` or `http` |
//! | `health.bindery.dev/path` | path of the HTTP GET, e.g. `/healthz` |
//! | `health.bindery.dev/interval` | seconds between probes |
//!
//! A probe result flips an upstream only after `unhealthyAfter` failures or
//! `healthyAfter` successes in a row, so one lost probe does not move load.
//!
//! The same task probes direct mode's addresses (one target per address an
//! EndpointSlice lists) and resolves its names; a target with `changed`
//! set is told when a flip or an answer changed what its slices show.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::state::Upstream;
use crate::policy::{HealthCheck, ProbeKind};

/// The endpoint's health check: the policy's, overridden by metadata.
pub fn check_for(base: &HealthCheck, metadata: &[(String, String)]) -> HealthCheck {
    let mut check = base.clone();
    for (k, v) in metadata {
        match k.as_str() {
            "health.bindery.dev/type" => match v.as_str() {
                "none" => check.kind = ProbeKind::None,
                "tcp" => check.kind = ProbeKind::Tcp,
                "http" => check.kind = ProbeKind::Http,
                other => tracing::warn!(
                    value = other,
                    "health.bindery.dev/type must be none, tcp or http; keeping the policy's"
                ),
            },
            "health.bindery.dev/path" if v.starts_with('/') => check.path = v.clone(),
            "health.bindery.dev/interval" => match v.parse::<u64>() {
                Ok(s) if s > 0 => check.interval_seconds = s,
                _ => {
                    tracing::warn!(value = %v, "health.bindery.dev/interval must be a positive number of seconds")
                }
            },
            _ => {}
        }
    }
    check
}

#[derive(Default)]
struct Runs {
    ok: u32,
    failed: u32,
    next: Option<Instant>,
}

/// Probe and re-resolve the endpoints `targets` lists until `stop`, or
/// until it lists none any more (`None`: its owner is gone).
pub async fn maintain(targets: impl Fn() -> Option<Vec<ProbeTarget>>, stop: CancellationToken) {
    let mut runs: HashMap<(String, String), Runs> = HashMap::new();
    let mut resolved_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let Some(targets) = targets() else {
            return;
        };
        let now = Instant::now();
        let resolve_every = targets.first().map(|t| t.resolve_every);
        if let Some(every) = resolve_every
            && resolved_at.is_none_or(|t| now >= t + every)
        {
            resolved_at = Some(now);
            for t in &targets {
                for u in t.upstreams.iter().filter(|u| u.is_name()) {
                    tokio::spawn(super::dns::resolve(u.clone(), t.changed.clone()));
                }
            }
        }
        // Probes of one round run concurrently; a slow upstream costs its
        // timeout once, not once per upstream behind it.
        let mut round = tokio::task::JoinSet::new();
        for t in targets {
            if t.check.kind == ProbeKind::None {
                continue;
            }
            for u in t.upstreams {
                let key = (t.url.clone(), u.address.clone());
                let r = runs.entry(key.clone()).or_default();
                if r.next.is_some_and(|n| now < n) {
                    continue;
                }
                r.next = Some(now + Duration::from_secs(t.check.interval_seconds.max(1)));
                let check = t.check.clone();
                let changed = t.changed.clone();
                round.spawn(async move {
                    let ok = probe(&u, &check).await;
                    (key, u, check, ok, changed)
                });
            }
        }
        while let Some(done) = round.join_next().await {
            let Ok(((url, _), u, check, ok, changed)) = done else {
                continue;
            };
            // A passed probe ends a passive ejection at once (Envoy's
            // `successful_active_health_check_uneject_host`).
            if ok && u.succeeded() {
                tracing::info!(%url, upstream = %u.address, "active health check passed; passive ejection ended");
            }
            let r = runs.entry((url.clone(), u.address.clone())).or_default();
            if ok {
                r.ok += 1;
                r.failed = 0;
            } else {
                r.failed += 1;
                r.ok = 0;
            }
            let flip = if ok {
                r.ok >= check.healthy_after.max(1)
            } else {
                r.failed >= check.unhealthy_after.max(1)
            };
            if flip && u.set_probe_healthy(ok) {
                tracing::warn!(%url, upstream = %u.address, healthy = ok, "active health check changed the upstream's state");
                if let Some(n) = changed {
                    n.notify_one();
                }
            }
        }
    }
}

/// What the maintenance task needs of one endpoint.
pub struct ProbeTarget {
    pub url: String,
    pub check: HealthCheck,
    pub resolve_every: Duration,
    pub upstreams: Vec<Arc<Upstream>>,
    /// Notified when a probe flips an upstream or a name's answer changes.
    pub changed: Option<Arc<Notify>>,
}

/// One probe of `u` as `check` says; true when it passed.
pub async fn probe(u: &Upstream, check: &HealthCheck) -> bool {
    let timeout = Duration::from_millis(check.timeout_ms.max(1));
    let Some(addr) = u.addrs().first().copied() else {
        return false;
    };
    let attempt = async {
        let mut s = TcpStream::connect(addr).await?;
        if check.kind == ProbeKind::Http {
            let req = format!(
                "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bindery-health\r\nConnection: close\r\n\r\n",
                check.path, u.address
            );
            s.write_all(req.as_bytes()).await?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head).await?;
            // "HTTP/1.1 200": healthy on 2xx and 3xx.
            return Ok::<bool, std::io::Error>(matches!(head.get(9), Some(b'2' | b'3')));
        }
        Ok(true)
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Ok(true)))
}
