//! The built-in plugins, compiled from `plugins/` by `build.rs` and embedded.
use super::world::World;

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component bytes and world of `builtin:<name>`.
pub fn get(name: &str) -> Option<(World, &'static [u8])> {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, w, b)| (*w, *b))
}

/// `builtin:a, builtin:b, ...` for error messages.
pub fn names() -> String {
    BUILTINS
        .iter()
        .map(|(n, _, _)| format!("builtin:{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
