//! Plugins from OCI registries: `oci://REGISTRY/REPO:TAG` and
//! `oci://REGISTRY/REPO@sha256:DIGEST`.
//!
//! - [`reference`] and [`digest`]: the reference syntax and the one digest
//!   algorithm;
//! - [`config`]: how registries are reached (credentials, CA, plain HTTP,
//!   mirrors, refresh, cache); [`auth`]: the dockerconfigjson file;
//! - [`client`]: one conversation with the registries over oci-client;
//! - [`store`]: pulled artifacts on disk by digest, checked on every read;
//! - [`fetcher`]: [`Artifacts`], what the plugin runtime asks for bytes,
//!   and the tag refresh.
//!
//! Only bytes leave this module: compiling them is the plugin runtime's
//! business, so nothing here touches wasmtime.
pub mod auth;
pub mod client;
pub mod config;
pub mod digest;
mod error;
pub mod fetcher;
pub mod reference;
pub mod store;

pub use config::{Mirror, RegistryOptions};
pub use digest::Digest;
pub use error::ArtifactError;
pub use fetcher::{Artifacts, Fetched, Source};
pub use reference::OciRef;

/// rustls with ring, as kube uses, for the registry client (which is
/// built without a provider of its own so no second one is linked).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
