//! One upstream's live state, shared by every generation that routes to it:
//! its address (re-resolved when it is a DNS name), its connections in
//! flight, and its health from passive failures and active probes.
//!
//! Every forwarder thread reads it for every connection (the router's
//! candidates) and counts its connections in it: its health and an IP
//! literal's address are read without a lock, and the live count has a
//! cache line of its own, so that one thread's count does not take the
//! line the other threads read from.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

/// Longest passive ejection, however many in a row.
const MAX_EJECT: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Upstream {
    /// Unique in the process: what per-upstream state kept elsewhere (the
    /// HTTP layer's idle connections) is keyed by.
    pub id: u64,
    /// `host:port` as the catalog gives it.
    pub address: String,
    /// The address when `address` is an IP literal: it never changes.
    literal: Option<SocketAddr>,
    /// Resolved addresses of a DNS name.
    addrs: RwLock<Vec<SocketAddr>>,
    active: CachePadded<AtomicU32>,
    passive: Mutex<Passive>,
    /// Passive failures or an ejection are recorded: a success must clear
    /// them. A success takes the lock only then.
    troubled: AtomicBool,
    /// End of the current ejection, in nanoseconds after `born` (0: none).
    ejected_until: AtomicU64,
    born: Instant,
    /// Set by active probes; true until a probe says otherwise.
    probe_healthy: AtomicBool,
    /// Why the last resolution of a DNS name failed, while it keeps the
    /// addresses of the answer before.
    resolve_failure: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
struct Passive {
    failures: u32,
    ejections: u32,
}

impl Upstream {
    pub fn new(address: &str) -> Upstream {
        let literal = address.parse::<SocketAddr>().ok();
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Upstream {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            address: address.to_string(),
            literal,
            addrs: RwLock::new(Vec::new()),
            active: CachePadded::new(AtomicU32::new(0)),
            passive: Mutex::new(Passive::default()),
            troubled: AtomicBool::new(false),
            ejected_until: AtomicU64::new(0),
            born: Instant::now(),
            probe_healthy: AtomicBool::new(true),
            resolve_failure: Mutex::new(None),
        }
    }

    /// True when the address needs DNS.
    pub fn is_name(&self) -> bool {
        self.literal.is_none()
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        if let Some(a) = self.literal {
            return vec![a];
        }
        self.addrs.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keep the answer of a resolution; true when the addresses changed.
    pub fn set_addrs(&self, addrs: Vec<SocketAddr>) -> bool {
        *self
            .resolve_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        let mut now = self.addrs.write().unwrap_or_else(|p| p.into_inner());
        let changed = *now != addrs;
        *now = addrs;
        changed
    }

    /// A resolution failed: its addresses stay. True when the failure is
    /// news (another message, or the first).
    pub fn set_resolve_failure(&self, why: String) -> bool {
        let mut f = self
            .resolve_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let news = f.as_deref() != Some(why.as_str());
        *f = Some(why);
        news
    }

    /// Why the last resolution failed, if it did.
    pub fn resolve_failure(&self) -> Option<String> {
        self.resolve_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
        let until = self.ejected_until.load(Ordering::Acquire);
        let ejected = until != 0 && self.nanos(now) < until;
        !ejected && self.probe_healthy.load(Ordering::Relaxed)
    }

    /// `t` in nanoseconds after `born`, at least 1 (0 means "not ejected").
    fn nanos(&self, t: Instant) -> u64 {
        let n = t.saturating_duration_since(self.born).as_nanos();
        u64::try_from(n).unwrap_or(u64::MAX).max(1)
    }

    /// The active probes' verdict; true when it changed.
    pub fn set_probe_healthy(&self, healthy: bool) -> bool {
        self.probe_healthy.swap(healthy, Ordering::Relaxed) != healthy
    }

    /// A connection or request to it succeeded, or an active probe passed:
    /// passive failures start over, and an ejection ends along with its
    /// back-off. True when an ejection in force ended.
    pub fn succeeded(&self) -> bool {
        if !self.troubled.load(Ordering::Acquire) {
            return false;
        }
        let mut p = self.passive.lock().unwrap_or_else(|p| p.into_inner());
        *p = Passive::default();
        let until = self.ejected_until.swap(0, Ordering::AcqRel);
        self.troubled.store(false, Ordering::Release);
        until != 0 && self.nanos(Instant::now()) < until
    }

    /// A connection or request failed; returns the ejection when this one
    /// triggers it. Failures during an ejection (requests that were on
    /// their way, or that found every candidate out) are not counted: the
    /// back-off doubles once per ejection, not per failure. Once the
    /// ejection ends, traffic tries the upstream again: `after` failures in
    /// a row eject it for twice as long, a success clears it all.
    pub fn failed(&self, after: u32, base: Duration, now: Instant) -> Option<Duration> {
        let mut p = self.passive.lock().unwrap_or_else(|p| p.into_inner());
        self.troubled.store(true, Ordering::Release);
        let until = self.ejected_until.load(Ordering::Acquire);
        if until != 0 && self.nanos(now) < until {
            return None;
        }
        p.failures += 1;
        if p.failures < after.max(1) {
            return None;
        }
        let eject = base
            .saturating_mul(1u32 << p.ejections.min(16))
            .min(MAX_EJECT);
        p.failures = 0;
        p.ejections += 1;
        self.ejected_until
            .store(self.nanos(now + eject), Ordering::Release);
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

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
