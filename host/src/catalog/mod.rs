//! Where endpoints come from. Every source holds [`EndpointSpec`]s and
//! parses each entry on its own, so one bad entry never hides the others.
//!
//! - [`spec`]: the fields of an entry, and the `BoundEndpoint` custom
//!   resource derived on them;
//! - [`entry`]: one entry with the place it came from;
//! - [`format`]: the catalog file's format;
//! - [`source`]: the interface every source implements, and their merge;
//! - [`file`]: `--catalog FILE`, followed as it changes;
//! - [`bound`]: the `BoundEndpoint` objects of a namespace;
//! - [`hub`]: the `BoundEndpoint` objects of a namespace of a hub cluster;
//! - [`http`]: `--catalog-url URL`, polled with ETags.
pub mod bound;
mod entry;
pub mod file;
mod format;
pub mod http;
pub mod hub;
pub mod source;
mod spec;

pub use entry::{Entry, EntryError};
pub use format::{CatalogError, load_file, parse_json, parse_str};
pub use source::{Source, Sources};
pub use spec::{
    BoundEndpoint, BoundEndpointStatus, ClusterStatus, EndpointSpec, Mode, UpstreamSpec, crd_yaml,
};
