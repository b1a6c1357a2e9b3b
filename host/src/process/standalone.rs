//! `bindery standalone`: no cluster. Every projection of a pass is served,
//! each newly served endpoint printed as `<url> -> <ip>:<port>`, and the
//! names are computed as if the operator ran in [`NAMESPACE`].
use std::io::Write;
use std::sync::Arc;

use super::passes::Mode;
use crate::catalog::Entry;
use crate::forward::{ListenError, Serving};
use crate::live::{PolicyGeneration, Snapshot};
use crate::pipeline::{Allocation, Outcome, Projection};

/// The operator namespace the names are computed for.
pub const NAMESPACE: &str = "bindery-system";

#[derive(Default)]
pub struct Standalone {
    /// What is served, as last printed.
    printed: Vec<Serving>,
    /// Endpoints the first pass could not serve; `None` before it.
    first_failures: Option<usize>,
}

impl Standalone {
    /// How many endpoints the first pass could not serve.
    pub fn first_failures(&self) -> usize {
        self.first_failures.unwrap_or(0)
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
        let serve = outcome.projections.clone();
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
                .map(|p| (p.key.id(), p.port))
                .collect()
        })
        .unwrap_or_default()
}
