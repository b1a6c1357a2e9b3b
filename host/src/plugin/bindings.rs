//! Host bindings of the three worlds of `wit/`, generated once. The shared
//! `types` and `log` interfaces are generated in `selector` and reused by
//! the other two, so one endpoint type and one log implementation serve all.
pub mod selector {
    wasmtime::component::bindgen!({
        world: "selector",
        path: "../wit",
    });
}

pub mod naming {
    wasmtime::component::bindgen!({
        world: "naming",
        path: "../wit",
        with: {
            "bindery:plugin/types": super::selector::bindery::plugin::types,
            "bindery:plugin/log": super::selector::bindery::plugin::log,
        },
    });
}

pub mod router {
    wasmtime::component::bindgen!({
        world: "router",
        path: "../wit",
        with: {
            "bindery:plugin/types": super::selector::bindery::plugin::types,
            "bindery:plugin/log": super::selector::bindery::plugin::log,
        },
    });
}

pub use selector::bindery::plugin::log::Level;
pub use selector::bindery::plugin::types::{Endpoint, Scheme, Upstream};
