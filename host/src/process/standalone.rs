//! `bindery standalone`: no cluster. Every proxy projection of a pass is
//! served, each newly served endpoint printed as `<url> -> <ip>:<port>`, and
//! the names are computed as if the operator ran in [`NAMESPACE`]. A direct
//! projection is not served (kube-proxy would carry it in a cluster): a log
//! line says so, and `/v1/endpoints` lists it with `served: false`.
use std::io::Write;
use std::sync::Arc;

use super::passes::Mode;
use crate::catalog::Entry;
use crate::forward::{ListenError, Serving};
use crate::live::{PolicyGeneration, Snapshot};
use crate::pipeline::{Allocation, Outcome, Projection, RejectKind, Rejection};

/// The operator namespace the names are computed for.
pub const NAMESPACE: &str = "bindery-system";

#[derive(Default)]
pub struct Standalone {
    /// What is served, as last printed.
    printed: Vec<Serving>,
    /// Rejections as last reported.
    reported: Vec<Rejection>,
    /// Direct URLs as last reported.
    direct: Vec<String>,
    /// Endpoints the first pass could not serve; `None` before it.
    first_failures: Option<usize>,
}

impl Standalone {
    /// How many endpoints the first pass could not serve.
    pub fn first_failures(&self) -> usize {
        self.first_failures.unwrap_or(0)
    }

    /// One log line per entry left out, when what is left out changed.
    fn report(&mut self, rejections: &[Rejection]) {
        if rejections == self.reported.as_slice() {
            return;
        }
        let mut errors = 0;
        for r in rejections {
            if matches!(r.kind, RejectKind::OtherAccount | RejectKind::NotSelected) {
                tracing::info!(entry = %r.entry, url = r.url.as_deref(), reason = r.kind.reason(), message = %r.message, "skipped");
            } else {
                errors += 1;
                tracing::warn!(entry = %r.entry, url = r.url.as_deref(), reason = r.kind.reason(), message = %r.message, "rejected");
            }
        }
        tracing::info!(
            rejected = errors,
            skipped = rejections.len() - errors,
            "entries not projected"
        );
        self.reported = rejections.to_vec();
    }
}

impl Mode for Standalone {
    async fn pass(
        &mut self,
        entries: Vec<Entry>,
        policy: &Arc<PolicyGeneration>,
        previous: Option<&Snapshot>,
    ) -> (Outcome, Vec<Projection>) {
        let kept = allocation(previous);
        let p = policy.clone();
        // Plugins run here: off the async threads.
        let outcome = tokio::task::spawn_blocking(move || {
            crate::pipeline::run(entries, &p.loaded.policy, &p.plugins, NAMESPACE, &kept)
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the pipeline task failed; nothing is projected by this pass");
            Outcome::default()
        });
        self.report(&outcome.rejections);
        let (serve, direct): (Vec<Projection>, Vec<Projection>) = outcome
            .projections
            .iter()
            .cloned()
            .partition(|p| p.port().is_some());
        let direct: Vec<String> = direct.iter().map(|p| p.key.url.to_string()).collect();
        if direct != self.direct {
            for url in direct.iter().filter(|u| !self.direct.contains(u)) {
                tracing::info!(%url, mode = "direct", "not served by bindery standalone: in a cluster its Service lists the upstreams for kube-proxy, with no forwarder hop");
            }
            self.direct = direct;
        }
        (outcome, serve)
    }

    fn served(&mut self, results: Vec<Result<Serving, ListenError>>) {
        let mut stdout = std::io::stdout().lock();
        let mut failed = 0;
        let mut now = Vec::new();
        for r in results {
            match r {
                Ok(s) => {
                    if !self.printed.contains(&s) {
                        let _ = writeln!(stdout, "{} -> {}", s.url, s.addr);
                    }
                    now.push(s);
                }
                Err(e) => {
                    failed += 1;
                    tracing::error!(error = %e, "endpoint not served");
                }
            }
        }
        let _ = stdout.flush();
        self.printed = now;
        self.first_failures.get_or_insert(failed);
    }

    async fn refused(&self, _errors: &[String]) {}

    fn recovered(&self) {}
}

/// The ports a snapshot allocated, to keep across passes.
pub fn allocation(snapshot: Option<&Snapshot>) -> Allocation {
    snapshot
        .map(|s| {
            s.outcome
                .projections
                .iter()
                .filter_map(|p| Some((p.key.id(), p.port()?)))
                .collect()
        })
        .unwrap_or_default()
}
