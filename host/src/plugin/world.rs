//! Which world of `wit/` a component implements, from its exports.
use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The three plugin worlds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum World {
    Selector,
    Naming,
    Router,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Selector => "selector",
            World::Naming => "naming",
            World::Router => "router",
        }
    }

    /// The function that, with `configure`, marks the world.
    fn marker(self) -> &'static str {
        match self {
            World::Selector => "select",
            World::Naming => "names",
            World::Router => "route",
        }
    }

    /// The world whose exports the component has, or a message listing what
    /// it exports instead.
    pub fn detect(engine: &Engine, component: &Component) -> Result<World, String> {
        let ty = component.component_type();
        if let Some(other) = ty
            .imports(engine)
            .filter_map(|(name, _)| name.strip_prefix("bindery:plugin/"))
            .filter_map(|rest| rest.split_once('@'))
            .map(|(_, version)| version)
            .find(|v| !loads(v))
        {
            return Err(format!(
                "was built against bindery:plugin@{other}, and this Bindery implements {}; rebuild it against the wit/ of this release",
                super::WIT_PACKAGE
            ));
        }
        let exports: Vec<String> = ty
            .exports(engine)
            .map(|(name, item)| match item.ty {
                ComponentItem::ComponentFunc(_) => name.to_string(),
                _ => format!("{name} (not a function)"),
            })
            .collect();
        let has = |n: &str| exports.iter().any(|e| e == n);
        let found: Vec<World> = [World::Selector, World::Naming, World::Router]
            .into_iter()
            .filter(|w| has(w.marker()) && has("configure"))
            .collect();
        match found.as_slice() {
            [w] => Ok(*w),
            [] => Err(format!(
                "implements none of the worlds selector, naming or router of {} (it exports: {}); build it against wit/ with wit-bindgen",
                super::WIT_PACKAGE,
                if exports.is_empty() {
                    "nothing".to_string()
                } else {
                    exports.join(", ")
                }
            )),
            _ => Err(
                "exports the functions of more than one world; a plugin implements exactly one"
                    .to_string(),
            ),
        }
    }
}

/// Whether a component that imports the contract at `version` links
/// against this host's: the same 0.x minor version at an earlier or equal
/// patch (it imports a subset), or exactly the host's version.
fn loads(version: &str) -> bool {
    let host = super::WIT_PACKAGE.split_once('@').map_or("", |(_, v)| v);
    if version == host {
        return true;
    }
    let parse = |v: &str| -> Option<(u32, u32, u32)> {
        let mut it = v.split('.').map(|n| n.parse::<u32>().ok());
        let triple = (it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(triple)
    };
    match (parse(version), parse(host)) {
        (Some((0, minor, patch)), Some((0, host_minor, host_patch))) => {
            minor == host_minor && patch <= host_patch
        }
        _ => false,
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
