//! What goes wrong fetching a plugin artifact; every message names the
//! reference, the rule broken and what to do.
use std::path::PathBuf;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ArtifactError {
    #[error("plugin reference {0}")]
    Reference(String),
    #[error(
        "{reference}: cannot reach registry {registry}: {detail}{cached}; check the address and that the registry runs, or name a mirror with --registry-mirror {registry}=MIRROR"
    )]
    Unreachable {
        reference: String,
        registry: String,
        detail: String,
        /// Why the cache could not stand in, when it was asked.
        cached: String,
    },
    #[error(
        "{reference}: TLS with registry {registry} failed: {detail}; give its CA bundle with --registry-ca FILE, or if it serves plain HTTP name it with --registry-insecure {registry}"
    )]
    Tls {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error("{reference}: registry {registry} refused access ({detail}); {fix}")]
    Unauthorized {
        reference: String,
        registry: String,
        detail: String,
        fix: &'static str,
    },
    #[error(
        "{reference}: not found in registry {registry} ({detail}); push it with `bindery plugin push FILE.wasm {reference}` or correct the tag or digest"
    )]
    NotFound {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error(
        "{reference}: the {what} served by {registry} has digest {actual}, not {expected}: refused; the registry or a mirror serves altered content, or the reference pins the wrong digest"
    )]
    DigestMismatch {
        reference: String,
        registry: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "{reference}: not a WebAssembly plugin artifact: {detail}; push the component with `bindery plugin push FILE.wasm {reference}` (one layer of media type application/wasm or application/vnd.wasm.content.layer.v1+wasm)"
    )]
    NotAPlugin { reference: String, detail: String },
    #[error("{reference}: registry {registry} answered: {detail}")]
    Registry {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error(
        "cannot read the registry credentials {path}: {detail}; --registry-auth takes a dockerconfigjson file ({{\"auths\": {{\"REGISTRY\": {{\"auth\": \"BASE64(user:password)\"}}}}}}), e.g. the .dockerconfigjson key of a kubernetes.io/dockerconfigjson Secret"
    )]
    AuthFile { path: PathBuf, detail: String },
    #[error(
        "cannot read the registry CA bundle {path}: {detail}; --registry-ca takes a PEM file of one or more CA certificates"
    )]
    CaFile { path: PathBuf, detail: String },
    #[error("registry client: {0}")]
    Client(String),
}

impl ArtifactError {
    /// Whether a cached copy may stand in: the registry could not be
    /// asked, as opposed to answering no.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ArtifactError::Unreachable { .. })
    }
}
