//! Bindery: project private endpoints into Kubernetes as `name.namespace:port`,
//! with selection, naming and routing programmed by WebAssembly plugins.
//!
//! The modules follow the data flow (`docs/architecture.md` draws it):
//!
//! - [`model`]: a validated endpoint and its URL rules;
//! - [`catalog`]: where endpoints come from: the sources (the catalog
//!   file, `BoundEndpoint` objects) behind one interface;
//! - [`policy`]: `policy.yaml`, naming the selectors and plugins;
//! - [`plugin`]: the sandboxed wasmtime runtime and the three worlds of `wit/`;
//! - [`artifact`]: plugins pulled from OCI registries, cached by digest;
//! - [`pipeline`]: the stages (validate, account, select, pool, name,
//!   project), with every rejection reported;
//! - [`reconcile`]: the pipeline's outcome applied to a cluster as
//!   Services under a Lease, statuses and Events, orphans removed;
//! - [`forward`]: the data plane, every projected endpoint on its port,
//!   each connection or request routed by the router plugin;
//! - [`live`]: the policy generation in effect and the last pass's outcome;
//! - [`process`]: `bindery run` and `bindery standalone` wired once: the
//!   sources, the policy reloads, the passes, the forwarder, the admin;
//! - [`admin`]: `/metrics`, health, and what is loaded and served;
//! - [`cluster`]: watching a Kubernetes API server; [`changes`]: watching
//!   files; [`metrics`]: the Prometheus families.
//!
//! The `bindery` binary (`main.rs`, `cli/`) is the only place that uses
//! `anyhow`; everything here has typed errors.
pub mod admin;
pub mod artifact;
pub mod catalog;
pub mod changes;
pub mod cluster;
pub mod forward;
pub mod live;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod plugin;
pub mod policy;
pub mod process;
pub mod reconcile;
