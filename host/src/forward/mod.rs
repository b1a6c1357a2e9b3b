//! The data plane: every projected endpoint served on its forwarder port,
//! each connection (tcp) or request (http) routed by the router plugin.
//!
//! By layer, from the socket up:
//!
//! - [`io`]: connecting, copying both ways, writes held to the end of a
//!   turn;
//! - [`serve`]: the worker threads, the listening sockets and accept
//!   loops, the connection limit, connections kept even across threads;
//! - [`upstream`]: an upstream's live state (in flight, passive health),
//!   active probes and DNS re-resolution;
//! - [`endpoint`]: one endpoint's route in one generation, the router
//!   call, and the passive health it counts;
//! - [`conns`]: an accepted connection handed to its protocol;
//! - [`tcp`]: a TCP connection; [`http`]: HTTP/1.1 and h2c, routed per
//!   request;
//! - [`forwarder`]: listeners per endpoint, updated in place on reload;
//! - [`metrics`]: the Prometheus families.
mod conns;
pub mod endpoint;
mod forwarder;
pub mod http;
pub mod io;
pub mod metrics;
pub mod serve;
mod tcp;
pub mod upstream;

pub use forwarder::{Forwarder, ListenError, Serving};
pub use metrics::ForwardMetrics;
