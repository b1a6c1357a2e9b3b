//! The sandboxed plugin runtime.
//!
//! - [`runtime`]: one `Engine` and `Linker`, the compile cache; loads a
//!   plugin of a given world from a policy reference;
//! - [`instance`]: a loaded plugin, its `InstancePre` and its pool of
//!   configured instances, calls under a deadline and a memory cap;
//! - [`selector`], [`naming`], [`router`]: the typed calls of each world;
//!   [`candidate`] and [`decision`]: what a router is given and answers,
//!   moved in and out of guest memory in one view each;
//! - [`route_input`]: what a router is told of a connection or request;
//!   [`routing`]: the host functions it reads the rest through;
//! - [`state`]: what a store holds (an empty WASI context, limits, the log
//!   import); [`world`]: which world a component implements;
//! - [`ticker`]: the epoch that stops calls at their deadline;
//! - [`builtin`]: the embedded built-in plugins.
pub mod bindings;
pub mod builtin;
mod cache;
pub mod candidate;
pub mod convert;
pub mod decision;
mod error;
mod generation;
pub mod instance;
pub mod naming;
pub mod route_input;
pub mod router;
mod routing;
pub mod runtime;
pub mod selector;
mod state;
mod ticker;
#[cfg(test)]
mod wat_component;
pub mod world;

/// The WIT package this host implements: `wit/`'s `package` line.
pub const WIT_PACKAGE: &str = "bindery:plugin@0.3.0";

pub use candidate::Candidate;
pub use decision::Decision;
pub use error::PluginError;
pub use generation::{Generation, naming_context};
pub use instance::{ArtifactInfo, Plugin, PluginInfo};
pub use naming::NamingPlugin;
pub use route_input::{RouteInput, RouteTarget, UpstreamView};
pub use router::{Routed, RouterPlugin};
pub use runtime::{Runtime, RuntimeOptions, default_cache_dir};
pub use selector::SelectorPlugin;
pub use state::HostState;
pub use world::World;
