//! Talking to a Kubernetes API server, for every part that watches one:
//! the catalog's `BoundEndpoint` sources, the reconciler's caches, the
//! policy ConfigMaps.
//!
//! - [`reflect`]: a watch cache kept by a reflector, its events notifying
//!   a trigger;
//! - [`retry`]: how a watch retries after an error.
pub mod reflect;
pub mod retry;
