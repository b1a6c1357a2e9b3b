//! One wasmtime `Engine` and `Linker` for every plugin: component model on,
//! component-model concurrency support off (it triples the cost of a bare
//! call), pooling allocator, epoch interruption driven by the
//! [`super::ticker`], compiled components cached by content hash.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::bindings::router::bindery::plugin::routing;
use super::bindings::selector::Selector;
use super::builtin;
use super::cache::ComponentCache;
use super::error::{PluginError, chain};
use super::instance::{ArtifactInfo, Plugin, PluginInfo, WorldBinding};
use super::state::HostState;
use super::ticker::Ticker;
use super::world::World;
use crate::artifact::{Artifacts, RegistryOptions};
use crate::metrics::PluginMetrics;
use crate::policy::{Limits, PluginRef, PluginSource};

/// Runtime settings.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Where compiled components (and pulled artifacts, under `oci/`) are
    /// kept across runs; `None` keeps compiled code in memory only.
    pub cache_dir: Option<PathBuf>,
    /// How OCI registries are reached.
    pub registry: RegistryOptions,
}

impl RuntimeOptions {
    /// The cache in [`default_cache_dir`], registries with the defaults.
    pub fn from_env() -> RuntimeOptions {
        RuntimeOptions::with_cache(default_cache_dir())
    }

    /// The cache in `dir`, for compiled code and pulled artifacts alike.
    pub fn with_cache(dir: Option<PathBuf>) -> RuntimeOptions {
        RuntimeOptions {
            registry: RegistryOptions {
                cache_dir: dir.clone(),
                ..RegistryOptions::default()
            },
            cache_dir: dir,
        }
    }
}

/// `$BINDERY_CACHE_DIR`, else `$XDG_CACHE_HOME/bindery`, else
/// `~/.cache/bindery`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("BINDERY_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|d| d.join("bindery"))
        })
}

/// The shared plugin runtime; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    cache: Arc<ComponentCache>,
    artifacts: Arc<Artifacts>,
    metrics: PluginMetrics,
    _ticker: Arc<Ticker>,
}

/// A component's bytes and, for an OCI reference, what was fetched.
pub struct Bytes {
    pub bytes: std::borrow::Cow<'static, [u8]>,
    pub artifact: Option<ArtifactInfo>,
}

/// A loaded component before it is bound to a world.
pub struct Inspected {
    pub world: World,
    pub sha256: String,
    pub component: Component,
}

impl Runtime {
    pub fn new(options: RuntimeOptions, metrics: PluginMetrics) -> Result<Runtime, PluginError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(1000)
            .total_core_instances(4000)
            .total_memories(1000)
            .total_tables(2000)
            .max_memory_size(Limits::MAX_MEMORY_MIB as usize * 1024 * 1024)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| PluginError::Runtime(chain(&e)))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Runtime(chain(&e)))?;
        Selector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Runtime(chain(&e)))?;
        routing::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Runtime(chain(&e)))?;
        let cache = ComponentCache::new(&engine, options.cache_dir);
        let artifacts =
            Artifacts::new(options.registry).map_err(|e| PluginError::Runtime(e.to_string()))?;
        let ticker = Ticker::start(engine.clone());
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache: Arc::new(cache),
            artifacts: Arc::new(artifacts),
            metrics,
            _ticker: Arc::new(ticker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn metrics(&self) -> &PluginMetrics {
        &self.metrics
    }

    /// The registry side: fetches, pushes, the tag refresh.
    pub fn artifacts(&self) -> &Arc<Artifacts> {
        &self.artifacts
    }

    /// Read the bytes a reference points at. An OCI reference is fetched
    /// (blocking: call from a blocking thread).
    pub fn bytes(&self, reference: &PluginRef, dir: &Path) -> Result<Bytes, PluginError> {
        let plugin = reference.plugin.clone();
        let bytes =
            match reference.source(dir).map_err(|detail| PluginError::World {
                plugin: plugin.clone(),
                detail,
            })? {
                PluginSource::Builtin(name) => builtin::get(&name)
                    .map(|(_, b)| std::borrow::Cow::Borrowed(b))
                    .ok_or_else(|| PluginError::UnknownBuiltin {
                        plugin,
                        known: builtin::names(),
                    })?,
                PluginSource::File(path) => std::fs::read(&path)
                    .map(std::borrow::Cow::Owned)
                    .map_err(|e| PluginError::Read {
                        plugin,
                        path: path.display().to_string(),
                        detail: e.to_string(),
                    })?,
                PluginSource::Oci(r) => {
                    let fetched = self.artifacts.fetch(&r).map_err(PluginError::Artifact)?;
                    let artifact = ArtifactInfo {
                        reference: fetched.reference.to_string(),
                        manifest: fetched.manifest.to_string(),
                        media_type: fetched.media_type,
                        source: fetched.source.to_string(),
                    };
                    return Ok(Bytes {
                        bytes: std::borrow::Cow::Owned(fetched.bytes),
                        artifact: Some(artifact),
                    });
                }
            };
        Ok(Bytes {
            bytes,
            artifact: None,
        })
    }

    /// Compile (or fetch from the cache) and tell the world.
    pub fn inspect(&self, name: &str, bytes: &[u8]) -> Result<Inspected, PluginError> {
        let (component, digest) =
            self.cache
                .get(&self.engine, bytes)
                .map_err(|detail| PluginError::Compile {
                    plugin: name.to_string(),
                    detail,
                })?;
        let world =
            World::detect(&self.engine, &component).map_err(|detail| PluginError::World {
                plugin: name.to_string(),
                detail,
            })?;
        Ok(Inspected {
            world,
            sha256: hex::encode(digest),
            component,
        })
    }

    /// Load a plugin of world `W` from a policy reference.
    pub fn load<W: WorldBinding>(
        &self,
        reference: &PluginRef,
        dir: &Path,
    ) -> Result<Arc<Plugin<W>>, PluginError> {
        let Bytes { bytes, artifact } = self.bytes(reference, dir)?;
        self.load_artifact::<W>(
            &reference.plugin,
            &bytes,
            &reference.config,
            reference.limits,
            artifact,
        )
    }

    /// Load a plugin of world `W` from component bytes.
    pub fn load_bytes<W: WorldBinding>(
        &self,
        name: &str,
        bytes: &[u8],
        config: &serde_json::Value,
        limits: Limits,
    ) -> Result<Arc<Plugin<W>>, PluginError> {
        self.load_artifact::<W>(name, bytes, config, limits, None)
    }

    /// [`Runtime::load_bytes`], recording the artifact they were fetched as.
    pub fn load_artifact<W: WorldBinding>(
        &self,
        name: &str,
        bytes: &[u8],
        config: &serde_json::Value,
        limits: Limits,
        artifact: Option<ArtifactInfo>,
    ) -> Result<Arc<Plugin<W>>, PluginError> {
        let inspected = self.inspect(name, bytes)?;
        if inspected.world != W::WORLD {
            return Err(PluginError::WrongWorld {
                plugin: name.to_string(),
                expected: W::WORLD,
                found: inspected.world,
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&inspected.component)
            .map_err(|e| PluginError::Link {
                plugin: name.to_string(),
                detail: chain(&e),
            })?;
        let info = PluginInfo {
            name: Arc::from(name),
            world: W::WORLD,
            sha256: inspected.sha256,
            config: config.to_string(),
            limits,
            artifact,
        };
        let counters = self.metrics.counters(name, W::WORLD.as_str());
        Plugin::new(
            info,
            self.engine.clone(),
            pre,
            self._ticker.clone(),
            counters,
        )
        .map(Arc::new)
    }
}
