//! Bindery: project private endpoints into Kubernetes as `name.namespace:port`,
//! with selection, naming and routing programmed by WebAssembly plugins.
//!
//! The modules follow the data flow of `DESIGN.md`:
//!
//! - [`model`]: a validated endpoint and its URL rules;
//! - [`catalog`]: where endpoints come from (the catalog file, `BoundEndpoint`
//!   objects) and the spec both share;
//! - [`policy`]: `policy.yaml`, naming the selectors and plugins;
//! - [`plugin`]: the sandboxed wasmtime runtime and the three worlds of `wit/`;
//! - [`artifact`]: plugins pulled from OCI registries, cached by digest;
//! - [`select`]: account filter and selector plugins;
//! - [`pool`]: endpoints of one account with the same URL;
//! - [`name`]: the naming plugin and the checks on what it returns;
//! - [`project`]: port allocation and the Service objects of each projection;
//! - [`pipeline`]: the stages above chained, with every rejection reported;
//! - [`forward`]: the data plane, every projected endpoint on its port,
//!   each connection or request routed by the router plugin;
//! - [`live`]: the generation in effect, reloaded when its files change;
//! - [`reconcile`]: `bindery run`: the catalog applied to a cluster as
//!   Services under a Lease, statuses and Events, orphans removed;
//! - [`admin`]: `/metrics`, health, and what is loaded and served;
//! - [`metrics`]: the Prometheus families.
//!
//! The `bindery` binary (`main.rs`, `cli/`) is the only place that uses
//! `anyhow`; everything here has typed errors.
pub mod admin;
pub mod artifact;
pub mod catalog;
pub mod forward;
pub mod live;
pub mod metrics;
pub mod model;
pub mod name;
pub mod pipeline;
pub mod plugin;
pub mod policy;
pub mod pool;
pub mod project;
pub mod reconcile;
pub mod select;
