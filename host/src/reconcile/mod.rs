//! The reconciler: the outcome of the pipeline made true in a real
//! cluster, safely. A whole-catalog pass ([`reconcile`]) runs the pipeline
//! on every replica and learns which ports the cluster confirms; only the
//! holder of the Lease writes. Nothing is written that is already so, so a
//! resync that finds nothing to change makes no request.
//!
//! - [`context`]: the shared [`Context`] of every pass;
//! - [`observed`]: a pass's inputs (and [`Upstreams`], what the process
//!   knows of direct projections' upstreams); [`watch`]: the Services,
//!   EndpointSlices and Namespaces caches;
//! - [`pass`]: the [`reconcile`] fn; applies, then cleans up;
//! - [`allocations`]: forwarder ports read back from upstream Services;
//! - [`owned`]: whose a Service or EndpointSlice is (labels only);
//! - [`diff`]: whether a live object needs an apply;
//! - [`apply`]: server-side apply, never over an object not ours;
//! - [`direct`]: a direct projection's Service and slices, in order;
//! - [`cleanup`]: orphans deleted, by uid, 404 counted as done;
//! - [`guard`]: the deletion guard every orphan passes first;
//! - [`verdict`]: what became of each entry; [`status`]: its conditions;
//! - [`report`]: statuses written and Events published when they change;
//! - [`events`]: Events, once per change of a problem;
//! - [`lease`]: one leader at a time (and a member's name on a hub);
//! - [`hub`]: a member's own entry in the status of the hub's objects;
//!   [`member`]: where and as whom it writes there;
//! - [`metrics`], [`error`].
pub mod allocations;
pub mod apply;
pub mod cleanup;
pub mod context;
pub mod diff;
pub mod direct;
pub mod error;
pub mod events;
pub mod guard;
pub mod hub;
pub mod lease;
pub mod member;
pub mod metrics;
pub mod observed;
pub mod owned;
pub mod pass;
pub mod report;
pub mod status;
pub mod verdict;
pub mod watch;

pub use context::{Context, FIELD_MANAGER};
pub use error::ReconcileError;
pub use guard::GuardSettings;
pub use lease::Leadership;
pub use member::Hub;
pub use metrics::ReconcileMetrics;
pub use observed::{Observed, Upstreams};
pub use pass::{Pass, reconcile};
