//! [`Artifacts`]: fetch a plugin's component by reference, from the cache
//! when it holds the digest, else from the registry; remember what each
//! tag resolved to; re-resolve the tags in use every refresh interval and
//! say when one moved.
//!
//! Registry I/O runs on a thread of its own (a one-worker tokio runtime);
//! callers block on the answer, so they must be blocking threads (the
//! reload path's `spawn_blocking`, a command's main thread), never the
//! forwarder's or an async worker during serving.
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::client::{Pulled, Session, wasm_layer};
use super::config::RegistryOptions;
use super::digest::Digest;
use super::error::ArtifactError;
use super::reference::OciRef;
use super::store::Store;

/// A component fetched for a reference, with where it came from.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub reference: OciRef,
    /// The manifest digest: what `@sha256:` pins.
    pub manifest: Digest,
    /// The component layer's digest (the SHA-256 of `bytes`).
    pub component: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub source: Source,
}

/// Where a fetched component came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Pulled now from this host (the registry or a mirror).
    Registry(String),
    /// The cache held the digest the registry (or the pin) named.
    Cache,
    /// The registry could not be asked: the tag's last known digest, from
    /// the cache.
    Offline(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Registry(host) => write!(f, "pulled from {host}"),
            Source::Cache => f.write_str("cache"),
            Source::Offline(why) => write!(f, "cache, registry unreachable ({why})"),
        }
    }
}

type Notify = Arc<dyn Fn() + Send + Sync>;

pub struct Artifacts {
    inner: Arc<Inner>,
    io: Io,
}

struct Inner {
    options: Arc<RegistryOptions>,
    store: Option<Store>,
    tags: Mutex<Tags>,
}

/// The tags in use and what they last resolved to.
#[derive(Default)]
struct Tags {
    seen: HashMap<OciRef, Digest>,
    /// Re-resolved every refresh: the tags of the generation in effect and
    /// of the latest attempt.
    watched: HashSet<OciRef>,
    /// Tags fetched by the load in progress.
    loading: Option<HashSet<OciRef>>,
}

impl Artifacts {
    pub fn new(options: RegistryOptions) -> Result<Artifacts, ArtifactError> {
        let store = options
            .cache_dir
            .as_ref()
            .and_then(|d| Store::open(&d.join("oci")));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bindery-registry")
            .enable_all()
            .build()
            .map_err(|e| ArtifactError::Client(format!("cannot start the registry thread: {e}")))?;
        Ok(Artifacts {
            inner: Arc::new(Inner {
                options: Arc::new(options),
                store,
                tags: Mutex::new(Tags::default()),
            }),
            io: Io(Some(runtime)),
        })
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.inner.options
    }

    /// The component of `reference`. Blocks: call from a blocking thread.
    pub fn fetch(&self, reference: &OciRef) -> Result<Fetched, ArtifactError> {
        let (inner, r) = (self.inner.clone(), reference.clone());
        let fetched = self.block(async move { inner.fetch(&r).await })??;
        tracing::info!(
            reference = %fetched.reference,
            manifest = %fetched.manifest,
            component = %fetched.component,
            source = %fetched.source,
            "plugin artifact resolved"
        );
        Ok(fetched)
    }

    /// Push a component; the manifest digest. Blocks.
    pub fn push(
        &self,
        reference: &OciRef,
        bytes: Vec<u8>,
        config: Vec<u8>,
    ) -> Result<Digest, ArtifactError> {
        let (options, r) = (self.inner.options.clone(), reference.clone());
        self.block(async move { Session::new(&options)?.push(&r, bytes, config).await })?
    }

    /// A policy load begins: the tags it fetches are collected.
    pub fn begin_load(&self) {
        self.inner.lock().loading = Some(HashSet::new());
    }

    /// A policy load ended: when it took effect its tags replace the
    /// watched ones, else they join them (the generation in effect still
    /// uses the old ones).
    pub fn end_load(&self, took_effect: bool) {
        let mut tags = self.inner.lock();
        let loaded = tags.loading.take().unwrap_or_default();
        if took_effect {
            tags.watched = loaded;
        } else {
            tags.watched.extend(loaded);
        }
    }

    /// Re-resolve the watched tags every refresh interval (when one is
    /// set) and call `changed` when any points elsewhere than it did.
    pub fn watch_tags(&self, changed: impl Fn() + Send + Sync + 'static) {
        let Some(every) = self.inner.options.refresh else {
            return;
        };
        let inner = self.inner.clone();
        let changed: Notify = Arc::new(changed);
        self.io.handle().spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if inner.refresh().await {
                    changed();
                }
            }
        });
    }

    fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, ArtifactError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.io.handle().spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| ArtifactError::Client("the registry thread stopped".to_string()))
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tags> {
        self.tags.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn fetch(&self, reference: &OciRef) -> Result<Fetched, ArtifactError> {
        if let Some(pinned) = reference.digest() {
            if let Some(f) = self.cached(reference, pinned, Source::Cache) {
                return Ok(f);
            }
            let session = Session::new(&self.options)?;
            return self.pull(&session, reference, pinned).await;
        }
        if let Some(loading) = &mut self.lock().loading {
            loading.insert(reference.clone());
        }
        let session = Session::new(&self.options)?;
        match session.resolve(reference).await {
            Ok((digest, _)) => {
                self.remember(reference, &digest);
                match self.cached(reference, &digest, Source::Cache) {
                    Some(f) => Ok(f),
                    None => self.pull(&session, reference, &digest).await,
                }
            }
            Err(ArtifactError::Unreachable {
                reference: r,
                registry,
                detail,
                ..
            }) => {
                let known = self.lock().seen.get(reference).cloned();
                let known = known.or_else(|| self.store.as_ref()?.tag(reference));
                let offline = Source::Offline(format!("{registry}: {detail}"));
                let found = known
                    .as_ref()
                    .and_then(|d| self.cached(reference, d, offline));
                found.ok_or_else(|| ArtifactError::Unreachable {
                    reference: r,
                    registry,
                    detail,
                    cached: match known {
                        Some(d) => format!(", and its last digest {d} is not in the cache"),
                        None => ", and no earlier resolution of this tag is cached".to_string(),
                    },
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn pull(
        &self,
        session: &Session,
        reference: &OciRef,
        digest: &Digest,
    ) -> Result<Fetched, ArtifactError> {
        let Pulled {
            manifest,
            layer,
            layer_digest,
            bytes,
            host,
        } = session.pull(reference, digest).await?;
        if let Some(store) = &self.store {
            store.put_blob(&layer_digest, &bytes);
            store.put_blob(digest, &manifest);
        }
        Ok(Fetched {
            reference: reference.clone(),
            manifest: digest.clone(),
            component: layer_digest,
            media_type: layer.media_type,
            bytes,
            source: Source::Registry(host),
        })
    }

    /// The artifact of manifest `digest` from the cache, every file
    /// checked against its digest.
    fn cached(&self, reference: &OciRef, digest: &Digest, source: Source) -> Option<Fetched> {
        let store = self.store.as_ref()?;
        let manifest = store.blob(digest)?;
        let layer = wasm_layer(&manifest).ok()?;
        let component = Digest::parse(&layer.digest).ok()?;
        let bytes = store.blob(&component)?;
        Some(Fetched {
            reference: reference.clone(),
            manifest: digest.clone(),
            component,
            media_type: layer.media_type,
            bytes,
            source,
        })
    }

    fn remember(&self, reference: &OciRef, digest: &Digest) {
        self.lock().seen.insert(reference.clone(), digest.clone());
        if let Some(store) = &self.store {
            store.put_tag(reference, digest);
        }
    }

    /// Re-resolve the watched tags; whether any moved.
    async fn refresh(&self) -> bool {
        let watched: Vec<OciRef> = self.lock().watched.iter().cloned().collect();
        if watched.is_empty() {
            return false;
        }
        let session = match Session::new(&self.options) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "tag refresh skipped");
                return false;
            }
        };
        let mut moved = false;
        for reference in watched {
            match session.resolve(&reference).await {
                Ok((digest, host)) => {
                    let before = self.lock().seen.insert(reference.clone(), digest.clone());
                    if before.as_ref() != Some(&digest) {
                        tracing::info!(%reference, registry = %host, from = ?before.map(|d| d.to_string()), to = %digest, "plugin tag moved; reloading");
                        moved = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(%reference, error = %e, "tag refresh failed; the plugin in effect stays");
                }
            }
        }
        moved
    }
}

/// The registry thread; stopped without waiting, as dropping a runtime
/// from an async context would panic.
struct Io(Option<tokio::runtime::Runtime>);

impl Io {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0
            .as_ref()
            .expect("the registry runtime lives until drop")
            .handle()
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}
