//! What each pass left out, told once in every mode: a log line per entry
//! when its rejection appears or changes (a warning for an error to fix,
//! an info line for a choice of the policy), and the counts whenever the
//! set changed. Events and statuses (in `run`) say it to the cluster; this
//! says it to whoever reads the log, whichever replica leads.
use std::collections::HashMap;

use crate::pipeline::Rejection;

/// The rejections as last told, by entry id.
#[derive(Default)]
pub struct Told {
    said: HashMap<String, Rejection>,
}

impl Told {
    /// Log what is news in `rejections` and, when the set changed, the
    /// counts; the entries no longer rejected are forgotten, so a later
    /// rejection of theirs is news again.
    pub fn tell(&mut self, rejections: &[Rejection]) {
        let mut changed = rejections.len() != self.said.len();
        let mut now = HashMap::with_capacity(rejections.len());
        for r in rejections {
            if self.said.get(&r.entry) != Some(r) {
                changed = true;
                log(r);
            }
            now.insert(r.entry.clone(), r.clone());
        }
        if !changed {
            return;
        }
        let errors = rejections.iter().filter(|r| r.kind.is_error()).count();
        let skipped = rejections.len() - errors;
        if errors > 0 {
            tracing::warn!(rejected = errors, skipped, "entries not projected");
        } else {
            tracing::info!(rejected = errors, skipped, "entries not projected");
        }
        self.said = now;
    }
}

fn log(r: &Rejection) {
    // `detail`, not `message`: that field is the event's own text.
    let (entry, url, reason, detail) = (&r.entry, r.url.as_deref(), r.kind.reason(), &r.message);
    if r.kind.is_error() {
        tracing::warn!(%entry, url, reason, %detail, "rejected");
    } else {
        tracing::info!(%entry, url, reason, %detail, "skipped");
    }
}
