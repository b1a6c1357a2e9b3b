//! Accepting and threads: where a connection is accepted, which forwarder
//! thread serves it, and whether the endpoint has room for it. Knows no
//! protocol: an accepted connection is handed to a [`listener::Serve`].
//!
//! - [`shards`]: the worker threads, one runtime each; [`affinity`]: the
//!   CPU each runs on;
//! - [`listener`]: the listening sockets of an endpoint and the accept
//!   loop; [`accept`]: accepting without registering;
//! - [`spread`]: an endpoint's connections kept even across the threads;
//! - [`limit`]: `maxConnections` per endpoint;
//! - [`memory`]: what a burst freed given back to the system.
pub mod accept;
pub mod affinity;
pub mod limit;
pub mod listener;
pub mod memory;
pub mod shards;
pub mod spread;
