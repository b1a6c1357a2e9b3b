//! The `selector` world.
use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::Endpoint;
use super::bindings::selector::{Selector, SelectorPre};
use super::error::PluginError;
use super::instance::{Plugin, WorldBinding};
use super::state::HostState;
use super::world::World;

pub enum SelectorWorld {}

impl WorldBinding for SelectorWorld {
    const WORLD: World = World::Selector;
    type Pre = SelectorPre<HostState>;
    type Bindings = Selector;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        SelectorPre::new(pre)
    }

    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Self::Bindings> {
        pre.instantiate(store)
    }

    fn configure(
        b: &Self::Bindings,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        b.call_configure(store, config)
    }
}

pub type SelectorPlugin = Plugin<SelectorWorld>;

impl Plugin<SelectorWorld> {
    /// Whether the plugin selects the endpoint.
    pub fn select(&self, endpoint: &Endpoint) -> Result<bool, PluginError> {
        self.call("select", |b, store| b.call_select(store, endpoint))?
            .map_err(|message| PluginError::Returned {
                plugin: self.info().name.to_string(),
                call: "select",
                message,
            })
    }
}
