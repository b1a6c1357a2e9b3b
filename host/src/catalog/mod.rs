//! Where endpoints come from: the catalog file and `BoundEndpoint` objects.
//! Both hold [`EndpointSpec`]s; every entry is parsed on its own, so one bad
//! entry never hides the others.
mod crd;
mod entry;
mod file;
mod spec;

pub use crd::{BoundEndpoint, BoundEndpointStatus, crd_yaml};
pub use entry::{Entry, EntryError};
pub use file::{CatalogError, load_file, parse_str};
pub use spec::{EndpointSpec, UpstreamSpec};

#[cfg(test)]
mod file_tests;
