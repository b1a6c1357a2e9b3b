//! Upstreams: their live state shared across generations, and the tasks
//! that keep it true.
//!
//! - [`state`]: one upstream's addresses, connections in flight and
//!   health (passive ejection and active probes);
//! - [`health`]: active probes, and the checks an endpoint asks for;
//! - [`dns`]: DNS names re-resolved.
pub mod dns;
pub mod health;
pub mod state;

pub use state::{ActiveGuard, Upstream};
