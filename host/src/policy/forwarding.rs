//! `forwarding:` in `policy.yaml`: how the forwarder treats connections and
//! upstreams. Every field has a production default; per-endpoint health
//! checks can be overridden with catalog metadata (see `forward::upstream::health`).
use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Forwarding {
    /// Give up connecting to one upstream after this long and try the next.
    pub connect_timeout_ms: u64,
    /// Close a connection with no bytes either way for this long (http: with
    /// no request arriving or in flight, checked four times per timeout).
    pub idle_timeout_seconds: u64,
    /// http endpoints: wait this long for an upstream's response head, then
    /// answer `504 Gateway Timeout`.
    pub response_timeout_seconds: u64,
    /// Connections in flight per endpoint; more are closed on accept.
    pub max_connections: usize,
    /// On shutdown, how long connections in flight may take to finish.
    pub drain_seconds: u64,
    /// Consecutive failures (connect errors, HTTP 502/503/504 from the
    /// forwarder's own attempts) that eject an upstream.
    pub eject_after_failures: u32,
    /// First ejection; doubled for each ejection in a row, up to 5 minutes.
    pub eject_seconds: u64,
    pub health_check: HealthCheck,
    /// Re-resolve DNS names in upstream addresses this often.
    pub resolve_seconds: u64,
}

impl Default for Forwarding {
    fn default() -> Self {
        Forwarding {
            connect_timeout_ms: 3_000,
            idle_timeout_seconds: 3_600,
            response_timeout_seconds: 60,
            max_connections: 10_000,
            drain_seconds: 30,
            eject_after_failures: 3,
            eject_seconds: 10,
            health_check: HealthCheck::default(),
            resolve_seconds: 30,
        }
    }
}

impl Forwarding {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_seconds.max(1))
    }
    pub fn response_timeout(&self) -> Duration {
        Duration::from_secs(self.response_timeout_seconds.max(1))
    }
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_seconds)
    }
    pub fn eject(&self) -> Duration {
        Duration::from_secs(self.eject_seconds.max(1))
    }
    pub fn resolve_every(&self) -> Duration {
        Duration::from_secs(self.resolve_seconds.max(1))
    }
}

/// Active health checks of every upstream.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HealthCheck {
    /// `none`, `tcp` (connect) or `http` (GET `path`, healthy on 2xx/3xx).
    #[serde(rename = "type")]
    pub kind: ProbeKind,
    pub path: String,
    pub interval_seconds: u64,
    pub timeout_ms: u64,
    /// Failed probes in a row before an upstream is marked unhealthy, and
    /// passed probes in a row before it is healthy again.
    pub unhealthy_after: u32,
    pub healthy_after: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            kind: ProbeKind::None,
            path: "/".to_string(),
            interval_seconds: 5,
            timeout_ms: 1_000,
            unhealthy_after: 2,
            healthy_after: 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    None,
    Tcp,
    Http,
}
