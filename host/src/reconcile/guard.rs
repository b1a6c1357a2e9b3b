//! The deletion guard: the one place every orphan passes before it is
//! deleted, whatever source its entry came from. A pass's deletions are
//! held, all of them, when
//!
//! - a source has not been read since the process started (a hub or URL
//!   that cannot be reached at start has no catalog yet, and what it
//!   projected before is not known to be gone), or
//! - they would remove more than `percent`% of this account's projections
//!   and at least `min` of them (a hub emptied by mistake, a catalog URL
//!   that suddenly answers `endpoints: []`, a selector that matches nothing).
//!
//! Held deletions wait, and the Services stay (and are served); everything
//! else in the pass goes on. They are released when the cause goes away,
//! when someone confirms them by setting the account Lease's
//! `bindery.dev/confirm-deletions` annotation to the token the hold shows,
//! or when the same hold has lasted `hold` (if set).
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Service;
use sha2::{Digest, Sha256};

use crate::pipeline::project::LABEL_UPSTREAM;

/// When to hold, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct GuardSettings {
    /// Hold a pass that would delete more than this share of the
    /// projections (0: the share never holds).
    pub percent: u8,
    /// ... and at least this many.
    pub min: usize,
    /// Release a hold that lasted this long; `None`: only a confirmation
    /// (or the cause going away) releases it.
    pub hold: Option<Duration>,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            percent: 50,
            min: 10,
            hold: Some(Duration::from_secs(600)),
        }
    }
}

/// Deletions waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// Set `bindery.dev/confirm-deletions` to this to release them.
    pub token: String,
    /// Projections whose Services wait.
    pub projections: usize,
    /// Of how many this account has.
    pub of: usize,
    /// Services held.
    pub services: usize,
    /// Why, in words.
    pub reason: String,
    pub since: SystemTime,
}

impl Held {
    /// What the Lease annotation, the Event and the log say.
    pub fn describe(&self, settings: &GuardSettings, lease: &str) -> String {
        let (ns, name) = lease.split_once('/').unwrap_or(("", lease));
        let release = match settings.hold {
            Some(d) => format!(", or wait until they have been held for {} s", d.as_secs()),
            None => String::new(),
        };
        format!(
            "deletion of {} of {} projections ({} Services) held: {}. Fix the catalog, or confirm with `kubectl -n {ns} annotate --overwrite lease {name} bindery.dev/confirm-deletions={}`{release}",
            self.projections, self.of, self.services, self.reason, self.token
        )
    }
}

/// What to do with a pass's orphans.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Delete,
    Hold(Held),
}

struct Hold {
    projections: BTreeSet<String>,
    reason: String,
    token: String,
    since: SystemTime,
    started: Instant,
}

/// The guard of one operator process; remembers the hold in effect.
pub struct Guard {
    pub settings: GuardSettings,
    state: Mutex<Option<Hold>>,
}

impl Guard {
    pub fn new(settings: GuardSettings) -> Guard {
        Guard {
            settings,
            state: Mutex::new(None),
        }
    }

    /// Decide on `orphans`, the Services about to be deleted, among
    /// `owned`, every Service of this account; `unsynced` names the
    /// sources not read yet, `confirmed` is the confirmation annotation's
    /// value.
    pub fn decide(
        &self,
        orphans: &[&Service],
        owned: &[&Service],
        unsynced: &[String],
        confirmed: Option<&str>,
    ) -> Decision {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let gone = projections(orphans);
        let all = projections(owned);
        let reason = if orphans.is_empty() {
            None
        } else if !unsynced.is_empty() {
            Some(format!(
                "{} not read since the operator started",
                unsynced.join(", ")
            ))
        } else if self.settings.percent > 0
            && gone.len() >= self.settings.min.max(1)
            && gone.len() * 100 > all.len() * usize::from(self.settings.percent)
        {
            Some(format!(
                "the pass would delete more than {}% of the projections",
                self.settings.percent
            ))
        } else {
            None
        };
        let Some(reason) = reason else {
            *state = None;
            return Decision::Delete;
        };
        if state
            .as_ref()
            .is_none_or(|h| h.projections != gone || h.reason != reason)
        {
            let since = SystemTime::now();
            *state = Some(Hold {
                token: token(&gone, since),
                projections: gone.clone(),
                reason: reason.clone(),
                since,
                started: Instant::now(),
            });
        }
        let hold = state.as_ref().expect("set above");
        if confirmed == Some(hold.token.as_str()) {
            tracing::warn!(token = %hold.token, projections = gone.len(), "held deletions confirmed; deleting");
            *state = None;
            return Decision::Delete;
        }
        if let Some(limit) = self.settings.hold
            && hold.started.elapsed() >= limit
        {
            tracing::warn!(token = %hold.token, projections = gone.len(), held = ?limit, "held deletions lasted the hold time; deleting");
            *state = None;
            return Decision::Delete;
        }
        Decision::Hold(Held {
            token: hold.token.clone(),
            projections: gone.len(),
            of: all.len(),
            services: orphans.len(),
            reason,
            since: hold.since,
        })
    }
}

/// The projections the Services belong to: their upstream Service's name,
/// else (a direct projection, a Service alone) their own.
fn projections(services: &[&Service]) -> BTreeSet<String> {
    services
        .iter()
        .map(|s| {
            let upstream = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_UPSTREAM));
            match upstream {
                Some(u) => u.clone(),
                None => format!(
                    "{}/{}",
                    s.metadata.namespace.as_deref().unwrap_or_default(),
                    s.metadata.name.as_deref().unwrap_or_default()
                ),
            }
        })
        .collect()
}

/// A short token naming this hold: what it holds and when it began, so a
/// confirmation left on the Lease never releases a later hold.
fn token(projections: &BTreeSet<String>, since: SystemTime) -> String {
    let mut h = Sha256::new();
    for p in projections {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let nanos = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(nanos.to_le_bytes());
    hex::encode(&h.finalize()[..5])
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
