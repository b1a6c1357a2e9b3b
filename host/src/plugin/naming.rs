//! The `naming` world.
use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::Endpoint;
use super::bindings::naming::{Names, Naming, NamingContext, NamingPre};
use super::error::PluginError;
use super::instance::{Plugin, WorldBinding};
use super::state::HostState;
use super::world::World;

pub enum NamingWorld {}

impl WorldBinding for NamingWorld {
    const WORLD: World = World::Naming;
    type Pre = NamingPre<HostState>;
    type Bindings = Naming;

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        NamingPre::new(pre)
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

pub type NamingPlugin = Plugin<NamingWorld>;

impl Plugin<NamingWorld> {
    /// The names the plugin gives the endpoint's projection (unchecked).
    pub fn names(
        &self,
        endpoint: &Endpoint,
        context: &NamingContext,
    ) -> Result<Names, PluginError> {
        self.call("names", |b, store| b.call_names(store, endpoint, context))?
            .map_err(|message| PluginError::Returned {
                plugin: self.info().name.to_string(),
                call: "names",
                message,
            })
    }
}
