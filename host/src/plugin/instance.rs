//! One loaded plugin: its `InstancePre`, its config and a pool of configured
//! instances. A call borrows an instance, runs under the plugin's deadline and
//! memory cap, and returns it; a trap discards only that instance (the next
//! call instantiates a fresh one) and is counted.
//!
//! A router is called on every connection and request, from the forwarder's
//! few long-lived threads, so each of those threads keeps one instance of its
//! own and borrows it without a lock. The instances go with the plugin when a
//! reload drops it.
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use thread_local::ThreadLocal;

use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store, Trap};

use super::error::{PluginError, chain};
use super::state::HostState;
use super::ticker::{TICK, Ticker};
use super::world::World;
use crate::metrics::PluginCounters;
use crate::policy::Limits;

/// Instances kept idle per plugin; more concurrent calls instantiate more
/// and the surplus is dropped on return.
const MAX_IDLE: usize = 16;

/// The typed side of one world: how to instantiate and configure it.
pub trait WorldBinding: 'static {
    const WORLD: World;
    /// Keep an instance per calling thread. Only for worlds called from a
    /// fixed set of threads: every thread that calls keeps one instance.
    const PER_THREAD: bool = false;
    type Pre: Clone + Send + Sync + 'static;
    type Bindings: Send + 'static;
    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Self::Bindings>;
    fn configure(
        b: &Self::Bindings,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>>;
}

/// What is known about a loaded plugin.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    /// The reference: `builtin:cel` or `my-router.wasm`.
    pub name: Arc<str>,
    pub world: World,
    /// Hex SHA-256 of the component bytes.
    pub sha256: String,
    /// The JSON passed to `configure`.
    pub config: String,
    pub limits: Limits,
    /// Set for a plugin fetched from an OCI registry.
    pub artifact: Option<ArtifactInfo>,
}

/// Which artifact an OCI plugin's component came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactInfo {
    /// `oci://...` as the policy wrote it.
    pub reference: String,
    /// The manifest digest it resolved to (what `@sha256:` would pin).
    pub manifest: String,
    /// The component layer's media type.
    pub media_type: String,
    /// Pulled from a registry or mirror, or from the cache (and why).
    pub source: String,
}

struct Slot<B> {
    store: Store<HostState>,
    bindings: B,
}

pub struct Plugin<W: WorldBinding> {
    info: PluginInfo,
    engine: Engine,
    pre: W::Pre,
    deadline_ticks: u64,
    idle: Mutex<Vec<Slot<W::Bindings>>>,
    /// Used when `W::PER_THREAD`.
    local: ThreadLocal<RefCell<Option<Slot<W::Bindings>>>>,
    counters: PluginCounters,
    /// Advances the epoch that deadlines count, while calls are made.
    ticker: Arc<Ticker>,
}

impl<W: WorldBinding> Plugin<W> {
    /// Build the plugin and one configured instance, so a bad config is
    /// reported now rather than on first use.
    pub(super) fn new(
        info: PluginInfo,
        engine: Engine,
        pre: InstancePre<HostState>,
        ticker: Arc<Ticker>,
        counters: PluginCounters,
    ) -> Result<Plugin<W>, PluginError> {
        let pre = W::pre(pre).map_err(|e| PluginError::Link {
            plugin: info.name.to_string(),
            detail: chain(&e),
        })?;
        let ticks = info.limits.timeout().as_nanos().div_ceil(TICK.as_nanos());
        let deadline_ticks = u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1);
        ticker.cover(deadline_ticks);
        let plugin = Plugin {
            info,
            engine,
            pre,
            deadline_ticks,
            idle: Mutex::new(Vec::new()),
            local: ThreadLocal::new(),
            counters,
            ticker,
        };
        let slot = plugin.new_slot()?;
        plugin.put_back(slot);
        Ok(plugin)
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    pub fn counters(&self) -> &PluginCounters {
        &self.counters
    }

    fn new_slot(&self) -> Result<Slot<W::Bindings>, PluginError> {
        let state = HostState::new(self.info.name.clone(), self.info.limits.memory_bytes());
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        self.arm(&mut store);
        self.counters.instantiations.inc();
        let bindings =
            W::instantiate(&self.pre, &mut store).map_err(|e| self.failure("instantiate", &e))?;
        self.arm(&mut store);
        match W::configure(&bindings, &mut store, &self.info.config) {
            Ok(Ok(())) => Ok(Slot { store, bindings }),
            Ok(Err(message)) => Err(PluginError::Config {
                plugin: self.info.name.to_string(),
                message,
            }),
            Err(e) => Err(self.failure("configure", &e)),
        }
    }

    /// This thread's own slot, for worlds that keep one.
    fn local(&self) -> Option<&RefCell<Option<Slot<W::Bindings>>>> {
        W::PER_THREAD.then(|| self.local.get_or_default())
    }

    fn take(&self) -> Result<Slot<W::Bindings>, PluginError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(slot) => Ok(slot),
            None => self.new_slot(),
        }
    }

    fn put_back(&self, slot: Slot<W::Bindings>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(slot);
        }
    }

    /// Run `f` on a configured instance under the deadline: this thread's own
    /// instance, used in place, when the world keeps one and no call on this
    /// thread holds it; otherwise one from the pool.
    pub fn call<R>(
        &self,
        call: &'static str,
        f: impl FnOnce(&W::Bindings, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        if let Some(cell) = self.local()
            && let Ok(mut own) = cell.try_borrow_mut()
        {
            let slot = match own.as_mut() {
                Some(slot) => slot,
                None => own.insert(self.take()?),
            };
            let result = self.run(slot, f);
            if result.is_err() {
                // The instance may be mid-way through anything: drop it.
                *own = None;
            }
            return result.map_err(|e| self.failure(call, &e));
        }
        let mut slot = self.take()?;
        match self.run(&mut slot, f) {
            Ok(r) => {
                self.put_back(slot);
                Ok(r)
            }
            // The instance may be mid-way through anything: drop it.
            Err(e) => Err(self.failure(call, &e)),
        }
    }

    fn run<R>(
        &self,
        slot: &mut Slot<W::Bindings>,
        f: impl FnOnce(&W::Bindings, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        // Counter::inc returns the previous count: time one call in 16.
        let timed = self
            .counters
            .calls
            .inc()
            .is_multiple_of(16)
            .then(std::time::Instant::now);
        self.arm(&mut slot.store);
        let result = f(&slot.bindings, &mut slot.store);
        if let Some(start) = timed {
            self.counters.latency.observe(start.elapsed().as_secs_f64());
        }
        result
    }

    /// Before guest code runs: its deadline starts now, and the epoch it
    /// counts must advance.
    fn arm(&self, store: &mut Store<HostState>) {
        self.ticker.calling();
        store.set_epoch_deadline(self.deadline_ticks);
    }

    fn failure(&self, call: &'static str, e: &wasmtime::Error) -> PluginError {
        self.counters.traps.inc();
        let plugin = self.info.name.to_string();
        let err = if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            PluginError::Deadline {
                plugin,
                call,
                timeout_ms: self.info.limits.timeout_ms,
            }
        } else {
            PluginError::Trap {
                plugin,
                call,
                detail: chain(e),
            }
        };
        tracing::warn!(plugin = %self.info.name, world = %W::WORLD, call, error = %err, "plugin instance discarded");
        err
    }
}
