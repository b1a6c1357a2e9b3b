//! Test support: a component written in the text format, instantiated on a
//! plain engine, to check what the host moves in and out of guest memory.
use wasmtime::component::{Component, Instance, Linker};
use wasmtime::{Config, Engine, Store};

pub fn instantiate(text: &str) -> (Store<()>, Instance) {
    let engine = Engine::new(Config::new().wasm_component_model(true)).expect("engine");
    let bytes = wat::parse_str(text).expect("component text");
    let component = Component::new(&engine, &bytes).expect("component compiles");
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &component)
        .expect("instantiates");
    (store, instance)
}
