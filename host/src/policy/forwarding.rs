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
    /// http endpoints: a request head must arrive whole within this long
    /// (the first from the connection's accept, a later one from its first
    /// byte), else the connection is closed, as HAProxy's `timeout
    /// http-request` does.
    pub request_head_timeout_seconds: u64,
    /// http endpoints: a request body that sends nothing for this long is
    /// abandoned with `408` and its connection closed, as Envoy's stream
    /// idle timeout does; never counted against the upstream.
    pub body_progress_timeout_seconds: u64,
    /// http endpoints: the largest request head (request line and header
    /// fields, answered `431` when over) and upstream response head
    /// (answered `502`), as Envoy's `max_request_headers_kb`.
    #[serde(deserialize_with = "head_bytes")]
    pub max_head_bytes: usize,
    /// Connections in flight per endpoint; more are closed on accept.
    pub max_connections: usize,
    /// On shutdown, how long connections in flight may take to finish.
    pub drain_seconds: u64,
    /// Consecutive failures (connect errors, HTTP 502/503/504 from the
    /// forwarder's own attempts) that eject an upstream. Failures while it
    /// is ejected do not count.
    pub eject_after_failures: u32,
    /// First ejection; doubled for each ejection in a row, up to 5 minutes.
    /// After it the upstream is tried again: a success (or a passed active
    /// probe, even during the ejection) clears the ejection and the
    /// doubling.
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
            request_head_timeout_seconds: 10,
            body_progress_timeout_seconds: 30,
            max_head_bytes: 64 * 1024,
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
    pub fn request_head_timeout(&self) -> Duration {
        Duration::from_secs(self.request_head_timeout_seconds.max(1))
    }
    pub fn body_progress_timeout(&self) -> Duration {
        Duration::from_secs(self.body_progress_timeout_seconds.max(1))
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

/// The bounds of `maxHeadBytes`: below 8 KiB the HTTP/1 server cannot
/// read (hyper's smallest buffer), above 1 MiB one client's head would cost
/// more memory than a thousand idle connections.
pub const HEAD_BYTES: std::ops::RangeInclusive<usize> = 8 * 1024..=1024 * 1024;

fn head_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if !HEAD_BYTES.contains(&n) {
        return Err(serde::de::Error::custom(format!(
            "{n} is out of range: use {} to {} bytes (default 65536)",
            HEAD_BYTES.start(),
            HEAD_BYTES.end()
        )));
    }
    Ok(n)
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

#[cfg(test)]
mod tests {
    use crate::policy::parse_str;

    #[test]
    fn the_client_limits_have_defaults_and_a_head_limit_in_range() {
        let f = parse_str("{}", "p").unwrap().forwarding;
        assert_eq!(f.request_head_timeout().as_secs(), 10);
        assert_eq!(f.body_progress_timeout().as_secs(), 30);
        assert_eq!(f.max_head_bytes, 65536);
        let set = "forwarding: {requestHeadTimeoutSeconds: 2, bodyProgressTimeoutSeconds: 3, maxHeadBytes: 16384}\n";
        let f = parse_str(set, "p").unwrap().forwarding;
        assert_eq!(
            (
                f.request_head_timeout_seconds,
                f.body_progress_timeout_seconds,
                f.max_head_bytes
            ),
            (2, 3, 16384)
        );
        for bad in ["100", "2000000"] {
            let e = parse_str(&format!("forwarding: {{maxHeadBytes: {bad}}}\n"), "p.yaml")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("maxHeadBytes") || e.contains("out of range"),
                "{e}"
            );
            assert!(e.contains("8192 to 1048576"), "{e}");
        }
    }
}
