//! Upstreams: their live state shared across generations, and the tasks
//! that keep it true.
//!
//! - [`state`]: one upstream's addresses, connections in flight and
//!   health (passive ejection and active probes);
//! - [`registry`]: every upstream's state by URL and address;
//! - [`health`]: active probes, and the checks an endpoint asks for;
//! - [`dns`]: DNS names re-resolved;
//! - [`direct`]: the upstreams of direct projections, resolved and probed
//!   for their EndpointSlices.
pub mod direct;
pub mod dns;
pub mod health;
pub mod registry;
pub mod state;

pub use state::{ActiveGuard, Upstream};
