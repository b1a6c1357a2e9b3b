//! The data plane: every projected endpoint served on its forwarder port,
//! each connection (tcp) or request (http) routed by the router plugin.
//!
//! - [`forwarder`]: listeners per endpoint, updated in place on reload;
//! - [`listener`]: bind and the accept loop; [`limit`]: the connection
//!   limit per endpoint; [`accept`]: accepting without registering;
//! - [`shards`]: the worker threads a connection lives on, [`affinity`]:
//!   the CPU each runs on; [`spread`]: keeps each endpoint's connections
//!   even across them;
//! - [`endpoint`]: one endpoint's route in one generation, the router call;
//! - [`upstream`]: live state of an upstream (in flight, passive health);
//! - [`tcp`], [`copy`], [`one_way`]: a TCP connection, half-close and idle
//!   timeout; [`connect`]: connecting to an upstream;
//! - [`http`]: HTTP/1.1 and h2c with per-request routing; [`held`]: its
//!   small writes sent together at the end of the thread's turn;
//! - [`health`]: active probes and DNS re-resolution;
//! - [`metrics`]: the Prometheus families.
mod accept;
pub mod affinity;
mod connect;
mod copy;
pub mod endpoint;
mod forwarder;
pub mod health;
pub mod held;
pub mod http;
mod limit;
mod listener;
pub mod metrics;
mod one_way;
pub mod shards;
mod spread;
mod tcp;
pub mod upstream;

pub use forwarder::{Forwarder, ListenError, Serving};
pub use metrics::ForwardMetrics;
