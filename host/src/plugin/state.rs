//! What a plugin's store holds: an empty WASI context (no filesystem, no
//! network, no environment, no stdio), its memory limits, and the host side
//! of the `log` import.
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::Level;
use super::bindings::selector::bindery::plugin::log;

/// Longest log line kept from a guest; the rest is cut.
const MAX_LOG_LINE: usize = 4096;
/// Log lines one instance may write before it is silenced.
const LOG_BUDGET: u32 = 1000;

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    plugin: Arc<str>,
    log_budget: u32,
    /// The connection a router is routing, during a `route` call only.
    pub(super) route: Option<super::route_input::RouteInput>,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_bytes: usize) -> HostState {
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(true)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            plugin,
            log_budget: LOG_BUDGET,
            route: None,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: Level, mut message: String) {
        if self.log_budget == 0 {
            return;
        }
        self.log_budget -= 1;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
        if self.log_budget == 0 {
            tracing::warn!(
                plugin,
                budget = LOG_BUDGET,
                "plugin instance logged too much; further lines dropped"
            );
        }
    }
}

/// The `types` interface has no functions; its host side is empty.
impl super::bindings::selector::bindery::plugin::types::Host for HostState {}
