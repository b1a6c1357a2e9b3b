//! `--catalog-url URL` as a source: a catalog in the catalog file's format
//! (YAML, or JSON when the server says so), fetched at start and polled at
//! an interval with `If-None-Match`, so an unchanged catalog costs the
//! server a 304. A read that fails (no connection, an error status, a
//! timeout, a body that does not parse, an empty body) keeps the entries
//! of the last good one and is reported.
//!
//! An empty body is refused rather than taken for an empty catalog: a
//! server that answers nothing is more likely broken than empty, and an
//! empty catalog would withdraw every endpoint it served. A catalog that
//! means to be empty says `endpoints: []` (and the reconciler's deletion
//! guard still holds a mass deletion until it is confirmed).
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::entry::Entry;
use super::format::{parse_json, parse_str};
use super::source::Source;

/// A catalog larger than this is refused: the source keeps its last good one.
const MAX_BODY: usize = 64 << 20;

/// How to fetch the catalog.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub url: http::Uri,
    /// Between two polls.
    pub interval: Duration,
    /// For one whole request, body included.
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer <token>`; read before every request,
    /// so a rotated token is picked up.
    pub token_file: Option<PathBuf>,
    /// PEM CA certificates trusted for an `https` URL instead of the
    /// system's.
    pub ca_file: Option<PathBuf>,
}

/// Why the source cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HttpSourceError {
    #[error("--catalog-url {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot read the CA bundle {path}: {reason}; give a file of PEM certificates")]
    Ca { path: PathBuf, reason: String },
    #[error("the TLS configuration for --catalog-url was refused: {0}")]
    Tls(#[from] rustls::Error),
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

pub struct HttpSource {
    origin: String,
    last: Arc<Mutex<Last>>,
}

#[derive(Default)]
struct Last {
    entries: Vec<Entry>,
    failure: Option<String>,
    synced: bool,
    etag: Option<String>,
}

impl HttpSource {
    /// Check the options, then poll until `stop`, the first request at
    /// once; notifies `trigger` when the entries or the failure change.
    /// Must run inside the tokio runtime.
    pub fn start(
        options: HttpOptions,
        trigger: Arc<Notify>,
        stop: CancellationToken,
    ) -> Result<HttpSource, HttpSourceError> {
        let url = options.url.to_string();
        let bad = |reason: &str| HttpSourceError::Url {
            url: url.clone(),
            reason: reason.to_string(),
        };
        match options.url.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(bad("the scheme must be http or https")),
        }
        if options.url.host().is_none() {
            return Err(bad("the URL names no host"));
        }
        if options
            .url
            .authority()
            .is_some_and(|a| a.as_str().contains('@'))
        {
            return Err(bad(
                "credentials in the URL are not sent; give a bearer token with --catalog-url-token-file",
            ));
        }
        let client = client(options.ca_file.as_deref())?;
        let last = Arc::new(Mutex::new(Last::default()));
        tokio::spawn(poll(client, options, last.clone(), trigger, stop));
        Ok(HttpSource {
            origin: format!("catalog URL {url}"),
            last,
        })
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Last> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An HTTP/1.1 client for `http` and `https`, on rustls with ring (the TLS
/// stack kube uses), trusting `ca_file` or else the system's CAs.
fn client(ca_file: Option<&Path>) -> Result<HttpsClient, HttpSourceError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let ca = |reason: String| HttpSourceError::Ca {
                path: path.to_path_buf(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca(e.to_string()))?;
            for cert in certs {
                let cert = cert.map_err(|e| ca(e.to_string()))?;
                roots.add(cert).map_err(|e| ca(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(ca("it holds no certificate".to_string()));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                tracing::warn!(error = %e, "reading the system's CA certificates");
            }
            roots.add_parsable_certificates(native.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

async fn poll(
    client: HttpsClient,
    options: HttpOptions,
    last: Arc<Mutex<Last>>,
    trigger: Arc<Notify>,
    stop: CancellationToken,
) {
    let url = options.url.to_string();
    loop {
        let etag = last.lock().unwrap_or_else(|p| p.into_inner()).etag.clone();
        let read = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(options.timeout, fetch(&client, &options, etag)) => {
                r.unwrap_or_else(|_| Err(format!(
                    "GET {url}: no complete answer within {:?}",
                    options.timeout
                )))
            }
        };
        if record(&last, &url, read) {
            trigger.notify_one();
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(options.interval) => {}
        }
    }
}

/// What one request brought.
enum Fetched {
    /// 304: the catalog of the ETag sent.
    NotModified,
    Catalog {
        entries: Vec<Entry>,
        etag: Option<String>,
    },
}

/// Keep what a read brought; true when the entries or the failure
/// changed (the process runs a pass).
fn record(last: &Mutex<Last>, url: &str, read: Result<Fetched, String>) -> bool {
    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
    let first = !last.synced;
    match read {
        Ok(Fetched::NotModified) => {
            tracing::debug!(%url, "catalog URL not modified");
            last.synced = true;
            let was = last.failure.take();
            if was.is_some() {
                tracing::info!(%url, "catalog URL answers again; its catalog did not change");
            }
            was.is_some() || first
        }
        Ok(Fetched::Catalog { entries, etag }) => {
            let same = same_entries(&last.entries, &entries);
            if !same || first || last.failure.is_some() {
                tracing::info!(%url, entries = entries.len(), etag = etag.as_deref().unwrap_or(""), "catalog URL read");
            }
            let changed = !same || last.failure.is_some() || first;
            *last = Last {
                entries,
                failure: None,
                synced: true,
                etag,
            };
            changed
        }
        Err(e) => {
            let e = if last.synced {
                format!("{e}; the last good catalog from this URL stays in effect")
            } else {
                format!("{e}; no catalog from this URL yet")
            };
            let news = last.failure.as_deref() != Some(e.as_str());
            if news {
                tracing::error!(%url, error = %e, "catalog URL read failed");
            }
            last.failure = Some(e);
            news
        }
    }
}

fn same_entries(a: &[Entry], b: &[Entry]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.id == y.id && x.spec == y.spec)
}

/// One GET; every error names the URL and what to check.
async fn fetch(
    client: &HttpsClient,
    options: &HttpOptions,
    etag: Option<String>,
) -> Result<Fetched, String> {
    let url = options.url.to_string();
    let mut request = http::Request::get(options.url.clone())
        .header(
            http::header::ACCEPT,
            "application/yaml, application/json;q=0.9, */*;q=0.5",
        )
        .header(
            http::header::USER_AGENT,
            concat!("bindery/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(etag) = &etag {
        request = request.header(http::header::IF_NONE_MATCH, etag);
    }
    if let Some(path) = &options.token_file {
        let token = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the bearer token file {}: {e}; check --catalog-url-token-file",
                path.display()
            )
        })?;
        request = request.header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()),
        );
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let response = client.request(request).await.map_err(|e| {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why = format!("{why}: {s}");
            source = s.source();
        }
        format!("GET {url} failed: {why}")
    })?;
    let status = response.status();
    if status == http::StatusCode::NOT_MODIFIED && etag.is_some() {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!(
            "GET {url} answered {status}; the catalog is read from a 200 answer"
        ));
    }
    let header = |name: http::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let new_etag = header(http::header::ETAG);
    let json = header(http::header::CONTENT_TYPE).is_some_and(|t| {
        let t = t.split(';').next().unwrap_or_default().trim();
        t == "application/json" || t.ends_with("+json")
    });
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("GET {url}: reading the body: {e} (at most {MAX_BODY} bytes)"))?
        .to_bytes();
    let text = std::str::from_utf8(&body)
        .map_err(|e| format!("GET {url}: the catalog is not UTF-8 text: {e}"))?;
    if text.trim().is_empty() {
        return Err(format!(
            "GET {url} answered an empty body, which is refused (an empty catalog would withdraw every endpoint): serve `endpoints: []` to mean no endpoints"
        ));
    }
    let entries = if json {
        parse_json(text, &url)
    } else {
        parse_str(text, &url)
    }
    .map_err(|e| e.to_string())?;
    Ok(Fetched::Catalog {
        entries,
        etag: new_etag,
    })
}

impl Source for HttpSource {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn entries(&self) -> Vec<Entry> {
        self.last().entries.clone()
    }

    fn failure(&self) -> Option<String> {
        self.last().failure.clone()
    }

    fn synced(&self) -> bool {
        self.last().synced
    }
}
