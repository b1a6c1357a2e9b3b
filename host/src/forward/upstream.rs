//! One upstream's live state, shared by every generation that routes to it:
//! its address (re-resolved when it is a DNS name), its connections in
//! flight, and its health from passive failures and active probes.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Longest passive ejection, however many in a row.
const MAX_EJECT: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Upstream {
    /// `host:port` as the catalog gives it.
    pub address: String,
    /// Resolved addresses; one entry when `address` is an IP literal.
    addrs: RwLock<Vec<SocketAddr>>,
    active: AtomicU32,
    passive: Mutex<Passive>,
    /// Set by active probes; true until a probe says otherwise.
    probe_healthy: std::sync::atomic::AtomicBool,
    /// Idle keep-alive connections (http endpoints).
    pub http_idle: super::http::pool::IdlePool,
}

#[derive(Debug, Default)]
struct Passive {
    failures: u32,
    ejections: u32,
    ejected_until: Option<Instant>,
}

impl Upstream {
    pub fn new(address: &str) -> Upstream {
        let addrs = address.parse::<SocketAddr>().into_iter().collect();
        Upstream {
            address: address.to_string(),
            addrs: RwLock::new(addrs),
            active: AtomicU32::new(0),
            passive: Mutex::new(Passive::default()),
            probe_healthy: std::sync::atomic::AtomicBool::new(true),
            http_idle: Default::default(),
        }
    }

    /// True when the address needs DNS.
    pub fn is_name(&self) -> bool {
        self.address.parse::<SocketAddr>().is_err()
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_addrs(&self, addrs: Vec<SocketAddr>) {
        *self.addrs.write().unwrap_or_else(|p| p.into_inner()) = addrs;
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Count a connection or request in flight until the guard drops.
    pub fn track(self: &std::sync::Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(self.clone())
    }

    pub fn healthy(&self, now: Instant) -> bool {
        let passive = self.passive.lock().unwrap_or_else(|p| p.into_inner());
        let ejected = passive.ejected_until.is_some_and(|t| t > now);
        !ejected && self.probe_healthy.load(Ordering::Relaxed)
    }

    pub fn set_probe_healthy(&self, healthy: bool) -> bool {
        self.probe_healthy.swap(healthy, Ordering::Relaxed) != healthy
    }

    /// A connection to it succeeded: passive failures start over.
    pub fn succeeded(&self) {
        let mut p = self.passive.lock().unwrap_or_else(|p| p.into_inner());
        if p.failures != 0 || p.ejected_until.is_some() {
            *p = Passive::default();
        }
    }

    /// A connection failed; returns the ejection when this one triggers it.
    pub fn failed(&self, after: u32, base: Duration, now: Instant) -> Option<Duration> {
        let mut p = self.passive.lock().unwrap_or_else(|p| p.into_inner());
        p.failures += 1;
        if p.failures < after.max(1) {
            return None;
        }
        let eject = base
            .saturating_mul(1u32 << p.ejections.min(16))
            .min(MAX_EJECT);
        p.failures = 0;
        p.ejections += 1;
        p.ejected_until = Some(now + eject);
        Some(eject)
    }
}

/// Decrements the upstream's in-flight count when dropped.
#[derive(Debug)]
pub struct ActiveGuard(std::sync::Arc<Upstream>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}
