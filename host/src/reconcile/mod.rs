//! The reconciler: the catalog projected into a real cluster, safely.
//!
//! A whole-catalog pass ([`reconcile`]) runs after watch events on
//! `BoundEndpoint`s, this account's Services and Namespaces, after a file
//! change, and at least every resync period. Every replica runs the
//! pipeline and serves the ports the upstream Services confirm; only the
//! holder of the Lease writes. Nothing is written that is already so, so a
//! resync that finds nothing to change makes no request.
//!
//! - [`context`]: the shared [`Context`] of every pass;
//! - [`world`]: a pass's inputs (watch caches, file entries, policy);
//! - [`pass`]: the [`reconcile`] fn; applies, then cleans up;
//! - [`allocations`]: forwarder ports read back from upstream Services;
//! - [`owned`]: whose a Service is (labels only);
//! - [`diff`]: whether a live Service needs an apply;
//! - [`apply`]: server-side apply, never over a Service not ours;
//! - [`cleanup`]: orphans deleted, by uid, 404 counted as done;
//! - [`verdict`]: what became of each entry; [`status`]: its conditions;
//! - [`report`]: statuses written and Events published when they change;
//! - [`events`]: Events, once per change of a problem;
//! - [`lease`]: one leader at a time;
//! - [`watch`]: the reflectors and the trigger; [`retry`]: their backoff;
//! - [`configmaps`]: `--watch-configmap` materialized for the reload;
//! - [`inputs`]: policy and catalog file, reloaded on change;
//! - [`run_loop`], [`operator`], [`options`]: `bindery run`;
//! - [`metrics`], [`error`].
pub mod allocations;
pub mod apply;
pub mod cleanup;
pub mod configmaps;
pub mod context;
pub mod diff;
pub mod error;
pub mod events;
pub mod inputs;
pub mod lease;
pub mod metrics;
pub mod operator;
pub mod options;
pub mod owned;
pub mod pass;
pub mod report;
pub mod retry;
pub mod run_loop;
pub mod status;
pub mod verdict;
pub mod watch;
pub mod world;

pub use context::{Context, FIELD_MANAGER};
pub use error::ReconcileError;
pub use lease::Leadership;
pub use metrics::ReconcileMetrics;
pub use operator::{Options, RunError, run};
pub use pass::{Pass, reconcile};
pub use world::{PolicyGeneration, World};

#[cfg(test)]
mod allocations_tests;
#[cfg(test)]
mod configmaps_tests;
#[cfg(test)]
mod diff_tests;
#[cfg(test)]
mod status_tests;
