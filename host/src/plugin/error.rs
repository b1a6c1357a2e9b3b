//! Plugin errors: each names the plugin, what went wrong and what to do.
use super::world::World;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {plugin}: cannot read {path}: {detail}")]
    Read {
        plugin: String,
        path: String,
        detail: String,
    },
    #[error("plugin {plugin}: unknown built-in; the built-ins are {known}")]
    UnknownBuiltin { plugin: String, known: String },
    #[error("plugin {plugin}: not a valid WebAssembly component: {detail}")]
    Compile { plugin: String, detail: String },
    #[error("plugin {plugin}: {detail}")]
    World { plugin: String, detail: String },
    #[error(
        "plugin {plugin} implements the {found} world but is used as a {expected}: reference it where a {found} goes"
    )]
    WrongWorld {
        plugin: String,
        expected: World,
        found: World,
    },
    #[error(
        "plugin {plugin}: cannot be linked: {detail}. A plugin may import only bindery:plugin/log and WASI 0.2 (which the host provides without filesystem, network or environment)"
    )]
    Link { plugin: String, detail: String },
    #[error("plugin {plugin}: configure rejected its config: {message}")]
    Config { plugin: String, message: String },
    #[error(
        "plugin {plugin}: {call} exceeded its deadline of {timeout_ms} ms; the instance was discarded"
    )]
    Deadline {
        plugin: String,
        call: &'static str,
        timeout_ms: u32,
    },
    #[error("plugin {plugin}: {call} trapped; the instance was discarded: {detail}")]
    Trap {
        plugin: String,
        call: &'static str,
        detail: String,
    },
    #[error("plugin {plugin}: {call} returned an error: {message}")]
    Returned {
        plugin: String,
        call: &'static str,
        message: String,
    },
    #[error("plugin {0}")]
    Artifact(crate::artifact::ArtifactError),
    #[error("plugin runtime: {0}")]
    Runtime(String),
}

impl PluginError {
    /// Whether the instance that produced this error is unusable.
    pub fn poisons(&self) -> bool {
        matches!(
            self,
            PluginError::Deadline { .. } | PluginError::Trap { .. }
        )
    }
}

/// The full chain of a wasmtime error on one line.
pub(super) fn chain(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.dedup();
    parts.join(": ")
}
