//! One conversation with the registries, built for each fetch or push so
//! that a rotated credentials Secret or CA bundle takes effect at once:
//! mirrors before the registry they stand for, HTTPS first, plain HTTP
//! only where [`RegistryOptions::allows_plain_http`] says so. Nothing here
//! knows about wasmtime.
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use oci_client::Client;
use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{self, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;

use super::auth::Credentials;
use super::config::RegistryOptions;
use super::digest::Digest;
use super::error::ArtifactError;
use super::reference::OciRef;

/// The layer media types of a WebAssembly component: the CNCF Wasm OCI
/// artifact's, and the older wasm-to-oci one's.
pub const WASM_LAYER_TYPES: [&str; 2] = ["application/wasm", manifest::WASM_LAYER_MEDIA_TYPE];
/// The config media type `bindery plugin push` writes (CNCF layout).
pub const WASM_CONFIG_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// A larger layer is refused before it is downloaded.
pub const MAX_COMPONENT_BYTES: i64 = 512 << 20;

const MANIFEST_TYPES: [&str; 4] = [
    manifest::OCI_IMAGE_MEDIA_TYPE,
    manifest::IMAGE_MANIFEST_MEDIA_TYPE,
    manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];
const USER_AGENT: &str = concat!("bindery/", env!("CARGO_PKG_VERSION"));

/// An artifact's manifest and component, both checked against their
/// digests.
pub struct Pulled {
    pub manifest: Vec<u8>,
    pub layer: OciDescriptor,
    pub layer_digest: Digest,
    pub bytes: Vec<u8>,
    /// The host that served it: the registry or one of its mirrors.
    pub host: String,
}

pub struct Session {
    https: Client,
    http: Client,
    options: Arc<RegistryOptions>,
    credentials: Credentials,
}

impl Session {
    pub fn new(options: &Arc<RegistryOptions>) -> Result<Session, ArtifactError> {
        crate::artifact::install_crypto_provider();
        let credentials = match &options.auth_file {
            Some(path) => Credentials::read(path)?,
            None => Credentials::default(),
        };
        let roots = match &options.ca_file {
            Some(path) => read_ca(path)?,
            None => Vec::new(),
        };
        let client = |protocol| {
            let config = ClientConfig {
                protocol,
                extra_root_certificates: roots.clone(),
                connect_timeout: Some(Duration::from_secs(10)),
                read_timeout: Some(Duration::from_secs(60)),
                user_agent: USER_AGENT,
                platform_resolver: None,
                ..ClientConfig::default()
            };
            Client::try_from(config).map_err(|e| ArtifactError::Client(chain(&e)))
        };
        Ok(Session {
            https: client(ClientProtocol::Https)?,
            http: client(ClientProtocol::Http)?,
            options: options.clone(),
            credentials,
        })
    }

    /// The manifest digest a tag points at now.
    pub async fn resolve(&self, reference: &OciRef) -> Result<(Digest, String), ArtifactError> {
        self.on_hosts(reference, |client, host, auth| {
            let r = reference.client_ref(&host);
            Box::pin(async move { client.fetch_manifest_digest(&r, &auth).await })
        })
        .await
        .and_then(|(digest, host)| {
            Digest::parse(&digest)
                .map(|d| (d, host.clone()))
                .map_err(|m| ArtifactError::Registry {
                    reference: reference.to_string(),
                    registry: host,
                    detail: m,
                })
        })
    }

    /// The manifest `digest` of `reference`'s repository and its one
    /// WebAssembly layer.
    pub async fn pull(&self, reference: &OciRef, digest: &Digest) -> Result<Pulled, ArtifactError> {
        let pinned = reference.at(digest);
        let (pulled, host) = self
            .on_hosts(reference, |client, host, auth| {
                let r = pinned.client_ref(&host);
                let reference = reference.to_string();
                let digest = digest.clone();
                Box::pin(async move {
                    let (manifest, _) =
                        client.pull_manifest_raw(&r, &auth, &MANIFEST_TYPES).await?;
                    let layer = match wasm_layer(&manifest) {
                        Ok(l) => l,
                        Err(detail) => {
                            return Ok(Err(ArtifactError::NotAPlugin { reference, detail }));
                        }
                    };
                    if !digest.matches(&manifest) {
                        return Ok(Err(ArtifactError::DigestMismatch {
                            reference,
                            registry: r.registry().to_string(),
                            what: "manifest",
                            expected: digest.to_string(),
                            actual: Digest::of(&manifest).to_string(),
                        }));
                    }
                    let mut bytes = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
                    client.pull_blob(&r, &layer, &mut bytes).await?;
                    Ok(Ok((manifest.to_vec(), layer, bytes)))
                })
            })
            .await?;
        let (manifest, layer, bytes) = pulled?;
        let layer_digest =
            Digest::parse(&layer.digest).map_err(|detail| ArtifactError::NotAPlugin {
                reference: reference.to_string(),
                detail,
            })?;
        // oci-client checked the stream; the bytes kept are checked again.
        if !layer_digest.matches(&bytes) {
            return Err(ArtifactError::DigestMismatch {
                reference: reference.to_string(),
                registry: host,
                what: "component layer",
                expected: layer_digest.to_string(),
                actual: Digest::of(&bytes).to_string(),
            });
        }
        Ok(Pulled {
            manifest,
            layer,
            layer_digest,
            bytes,
            host,
        })
    }

    /// Push `bytes` as a one-layer Wasm artifact to the registry itself
    /// (never a mirror); the manifest digest it got.
    pub async fn push(
        &self,
        reference: &OciRef,
        bytes: Vec<u8>,
        config: Vec<u8>,
    ) -> Result<Digest, ArtifactError> {
        let registry = reference.registry.clone();
        let auth = self.credentials.for_registry(&registry);
        let r = reference.client_ref(&registry);
        let layers = [ImageLayer::new(
            bytes,
            WASM_LAYER_TYPES[0].to_string(),
            None,
        )];
        let config = Config::new(config, WASM_CONFIG_TYPE.to_string(), None);
        let pushed = self
            .with_scheme(&registry, |client| {
                let (r, auth, layers, config) =
                    (r.clone(), auth.clone(), layers.clone(), config.clone());
                Box::pin(async move {
                    let mut manifest = OciImageManifest::build(&layers, &config, None);
                    manifest.artifact_type = Some(WASM_CONFIG_TYPE.to_string());
                    client
                        .push(&r, &layers, config, &auth, Some(manifest))
                        .await?;
                    client.fetch_manifest_digest(&r, &auth).await
                })
            })
            .await
            .map_err(|e| self.classify(e, reference, &registry))?;
        Digest::parse(&pushed).map_err(|detail| ArtifactError::Registry {
            reference: reference.to_string(),
            registry,
            detail,
        })
    }

    /// Run `op` against each host of `reference` (mirrors, then the
    /// registry) until one succeeds; the registry's own error otherwise.
    async fn on_hosts<T>(
        &self,
        reference: &OciRef,
        op: impl for<'a> Fn(
            &'a Client,
            String,
            RegistryAuth,
        ) -> BoxFuture<'a, Result<T, OciDistributionError>>,
    ) -> Result<(T, String), ArtifactError> {
        let hosts = self.options.hosts_for(&reference.registry);
        for host in &hosts {
            let auth = self.credentials.for_registry(host);
            let result = self
                .with_scheme(host, |client| op(client, host.clone(), auth.clone()))
                .await;
            match result {
                Ok(t) => return Ok((t, host.clone())),
                Err(e) if host != &reference.registry => {
                    let e = self.classify(e, reference, host);
                    tracing::warn!(%reference, mirror = %host, error = %e, "mirror did not serve the artifact; trying the next");
                }
                Err(e) => return Err(self.classify(e, reference, host)),
            }
        }
        unreachable!("hosts_for always ends with the registry itself")
    }

    /// HTTPS; then plain HTTP when allowed and HTTPS could not connect
    /// (but not when the server spoke TLS and its certificate was refused:
    /// that server has no plain HTTP to offer, and the fix is its CA).
    async fn with_scheme<T>(
        &self,
        host: &str,
        op: impl for<'a> Fn(&'a Client) -> BoxFuture<'a, Result<T, OciDistributionError>>,
    ) -> Result<T, OciDistributionError> {
        let secure = op(&self.https).await;
        match secure {
            Err(e)
                if self.options.allows_plain_http(host)
                    && connect_failed(&e)
                    && !speaks_tls(&e) =>
            {
                tracing::debug!(registry = %host, error = %chain(&e), "HTTPS failed; trying plain HTTP (allowed for this registry)");
                match op(&self.http).await {
                    Err(plain) if connect_failed(&plain) && !is_tls(&e) => Err(e),
                    other => other,
                }
            }
            other => other,
        }
    }

    fn classify(&self, e: OciDistributionError, reference: &OciRef, host: &str) -> ArtifactError {
        let reference = reference.to_string();
        let registry = host.to_string();
        let detail = chain(&e);
        let unauthorized = |detail: String| ArtifactError::Unauthorized {
            fix: if self.credentials.has(host) {
                "the credentials for it in --registry-auth were refused: correct them, or grant that account pull access"
            } else {
                "give credentials for it in the dockerconfigjson file of --registry-auth"
            },
            reference: reference.clone(),
            registry: registry.clone(),
            detail,
        };
        match &e {
            OciDistributionError::RequestError(_) if is_tls(&e) => ArtifactError::Tls {
                reference,
                registry,
                detail,
            },
            OciDistributionError::RequestError(_) | OciDistributionError::IoError(_) => {
                ArtifactError::Unreachable {
                    reference,
                    registry,
                    detail,
                    cached: String::new(),
                }
            }
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => unauthorized(detail),
            OciDistributionError::RegistryError { envelope, .. } => {
                let code = envelope.errors.first().map(|e| &e.code);
                match code {
                    Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => unauthorized(detail),
                    Some(
                        OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound,
                    ) => ArtifactError::NotFound {
                        reference,
                        registry,
                        detail,
                    },
                    _ => ArtifactError::Registry {
                        reference,
                        registry,
                        detail,
                    },
                }
            }
            OciDistributionError::ServerError { code, .. } => match code {
                401 | 403 => unauthorized(detail),
                404 => ArtifactError::NotFound {
                    reference,
                    registry,
                    detail,
                },
                500.. => ArtifactError::Unreachable {
                    reference,
                    registry,
                    detail,
                    cached: String::new(),
                },
                _ => ArtifactError::Registry {
                    reference,
                    registry,
                    detail,
                },
            },
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) => ArtifactError::DigestMismatch {
                what: "content",
                expected: expected.clone(),
                actual: actual.clone(),
                reference,
                registry,
            },
            _ => ArtifactError::Registry {
                reference,
                registry,
                detail,
            },
        }
    }
}

/// The one WebAssembly layer of a manifest, or why there is none.
pub(super) fn wasm_layer(manifest: &[u8]) -> Result<OciDescriptor, String> {
    let value: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    if value.get("manifests").is_some() {
        return Err("it is an image index, not one artifact".to_string());
    }
    let parsed: OciImageManifest =
        serde_json::from_value(value).map_err(|e| format!("the manifest does not parse: {e}"))?;
    let wasm: Vec<&OciDescriptor> = parsed
        .layers
        .iter()
        .filter(|l| WASM_LAYER_TYPES.contains(&l.media_type.as_str()))
        .collect();
    match wasm.as_slice() {
        [one] if one.size > MAX_COMPONENT_BYTES => Err(format!(
            "its component layer is {} bytes, above the limit of {MAX_COMPONENT_BYTES}",
            one.size
        )),
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "it has no WebAssembly layer (its layers: {})",
            if parsed.layers.is_empty() {
                "none".to_string()
            } else {
                parsed
                    .layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        many => Err(format!(
            "it has {} WebAssembly layers; a plugin artifact holds one component",
            many.len()
        )),
    }
}

/// Each certificate of a PEM bundle.
fn read_ca(path: &std::path::Path) -> Result<Vec<Certificate>, ArtifactError> {
    let err = |detail: String| ArtifactError::CaFile {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let certs: Vec<Certificate> = text
        .split(BEGIN)
        .skip(1)
        .map(|body| Certificate {
            encoding: CertificateEncoding::Pem,
            data: format!("{BEGIN}{body}").into_bytes(),
        })
        .collect();
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".to_string()));
    }
    Ok(certs)
}

/// Whether the request never reached an HTTP answer.
fn connect_failed(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => r.is_connect() || r.is_request() || r.is_timeout(),
        _ => false,
    }
}

fn is_tls(e: &OciDistributionError) -> bool {
    tls_error(e).is_some() || speaks_tls(e)
}

/// The TLS error under a request error, if any.
fn tls_error(e: &OciDistributionError) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(t) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(t);
        }
        source = s.source();
    }
    None
}

/// Whether the server answered in TLS (and the handshake failed on its
/// certificate or an alert), as opposed to not speaking TLS at all.
fn speaks_tls(e: &OciDistributionError) -> bool {
    let typed = matches!(
        tls_error(e),
        Some(
            rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::AlertReceived(_)
        )
    );
    // The connector may hand the TLS error over as text only: rustls's
    // own wording of the same three errors.
    let text = chain(e);
    typed
        || [
            "invalid peer certificate",
            "peer sent no certificates",
            "received fatal alert",
        ]
        .iter()
        .any(|t| text.contains(t))
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
