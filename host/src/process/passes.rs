//! The loop of passes: a pass after every burst of source events, policy
//! change, trigger (a watch event, leadership gained), and at least every
//! resync period. Each pass's outcome is published for the admin server
//! and what it confirms handed to the forwarder; what it left out is logged
//! here for both modes. Refused reloads of the
//! policy and failing sources are reported through the mode and kept in
//! [`Live`] until they are over.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Process;
use crate::catalog::Entry;
use crate::forward::{ListenError, Serving};
use crate::live::{PolicyGeneration, Snapshot};
use crate::pipeline::{Outcome, Projection};

/// Quiet period that gathers a burst of events into one pass.
const GATHER: Duration = Duration::from_millis(100);
/// A steady stream of events still gets a pass this often.
const GATHER_AT_MOST: Duration = Duration::from_secs(1);

/// What sets `run` and `standalone` apart.
#[allow(
    async_fn_in_trait,
    reason = "the loop of passes runs on one task: its futures need not be Send"
)]
pub trait Mode {
    /// One pass over the merged catalog under `policy`: what became of
    /// it, and the projections the forwarder is to serve. `previous` is
    /// the last pass's snapshot.
    async fn pass(
        &mut self,
        entries: Vec<Entry>,
        policy: &Arc<PolicyGeneration>,
        previous: Option<&Snapshot>,
    ) -> (Outcome, Vec<Projection>);

    /// Where each endpoint is served now, or why it is not.
    fn served(&mut self, results: Vec<Result<Serving, ListenError>>);

    /// The policy or a source was refused; the previous stays in effect.
    async fn refused(&self, errors: &[String]);

    /// Every refusal is over.
    fn recovered(&self);
}

/// Run passes until `stop` (`resync`: at least this often).
pub async fn run(mode: &mut impl Mode, process: &mut Process, resync: Option<Duration>) {
    let mut installed = None;
    let mut watching = true;
    let mut refusals = Refusals::default();
    let mut told = super::rejections::Told::default();
    loop {
        let policy = process.policy.current().clone();
        let previous = process.live.current();
        let (outcome, serve) = mode
            .pass(process.sources.entries(), &policy, previous.as_deref())
            .await;
        told.tell(&outcome.rejections);
        let settings = Arc::new(policy.loaded.policy.forwarding.clone());
        let results =
            process
                .forwarder
                .apply(&serve, &policy.plugins.router, &settings, policy.generation);
        let snapshot = Snapshot {
            policy: policy.clone(),
            outcome,
            passed_at: SystemTime::now(),
        };
        if installed == Some(policy.generation) {
            process.live.publish(snapshot);
        } else {
            process.live.install(snapshot);
            installed = Some(policy.generation);
        }
        // After the snapshot: what the mode prints, the admin server shows.
        mode.served(results);
        refusals
            .sources(process.sources.failures(), mode, process)
            .await;

        tokio::select! {
            _ = process.stop.cancelled() => return,
            // `changed` is cancel-safe: a trigger winning the select never
            // loses a change of the policy.
            change = process.policy.changed(), if watching => match change {
                Some(()) => match process.policy.reload().await {
                    Ok(()) => refusals.policy(Vec::new(), mode, process).await,
                    Err(errors) => refusals.policy(errors, mode, process).await,
                },
                None => {
                    tracing::warn!("file watch ended; the policy is no longer reloaded");
                    watching = false;
                }
            },
            _ = process.trigger.notified() => {}
            _ = sleep(resync) => {}
        }
        // Gather the rest of a burst, for a bounded time.
        let deadline = tokio::time::Instant::now() + GATHER_AT_MOST;
        while tokio::time::Instant::now() < deadline
            && tokio::time::timeout(GATHER, process.trigger.notified())
                .await
                .is_ok()
        {}
    }
}

async fn sleep(every: Option<Duration>) {
    match every {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The refusals in effect: of the policy's latest reload, and of the
/// sources' latest reads.
#[derive(Default)]
struct Refusals {
    policy: Vec<String>,
    sources: Vec<String>,
}

impl Refusals {
    async fn policy(&mut self, errors: Vec<String>, mode: &impl Mode, process: &Process) {
        for e in &errors {
            tracing::error!(error = %e, "policy reload refused; the previous generation stays in effect");
        }
        self.policy = errors;
        self.report(!self.policy.is_empty(), mode, process).await;
    }

    async fn sources(&mut self, failures: Vec<String>, mode: &impl Mode, process: &Process) {
        if failures == self.sources {
            return;
        }
        let news = failures.iter().any(|f| !self.sources.contains(f));
        self.sources = failures;
        self.report(news, mode, process).await;
    }

    /// Say what is refused now; `news`: something was refused just now,
    /// and is counted.
    async fn report(&self, news: bool, mode: &impl Mode, process: &Process) {
        let all: Vec<String> = self.policy.iter().chain(&self.sources).cloned().collect();
        if all.is_empty() {
            process.live.clear_failure();
            mode.recovered();
        } else if news {
            process.live.failed(all.clone());
            mode.refused(&all).await;
        }
    }
}
