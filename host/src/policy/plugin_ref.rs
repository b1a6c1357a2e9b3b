//! `{plugin: builtin:<name> | <file>.wasm | oci://..., config: {...}, limits: {...}}`.
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::artifact::OciRef;

/// A reference to a plugin with its configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// `builtin:<name>`, a `.wasm` file name in the policy directory, or
    /// `oci://REGISTRY/REPO:TAG` / `oci://REGISTRY/REPO@sha256:DIGEST`.
    pub plugin: String,
    /// Passed to the plugin's `configure` as JSON.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Sandbox limits for this plugin.
    #[serde(default)]
    pub limits: Limits,
}

/// Per-plugin sandbox limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Linear memory cap per instance.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u32,
    /// Deadline of one call.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: default_memory_mib(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

impl Limits {
    pub const MAX_MEMORY_MIB: u32 = 1024;

    pub fn memory_bytes(&self) -> usize {
        self.memory_mib as usize * 1024 * 1024
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.timeout_ms))
    }
}

fn default_memory_mib() -> u32 {
    64
}

fn default_timeout_ms() -> u32 {
    100
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Where a plugin's component comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    Builtin(String),
    File(PathBuf),
    Oci(OciRef),
}

impl PluginRef {
    pub fn builtin(name: &str) -> PluginRef {
        PluginRef {
            plugin: format!("builtin:{name}"),
            config: empty_object(),
            limits: Limits::default(),
        }
    }

    /// Resolve the reference against the policy directory. Errors name the
    /// rule and the fix.
    pub fn source(&self, dir: &Path) -> Result<PluginSource, String> {
        if let Some(name) = self.plugin.strip_prefix("builtin:") {
            return Ok(PluginSource::Builtin(name.to_string()));
        }
        if self.plugin.starts_with(crate::artifact::reference::SCHEME) {
            return OciRef::parse(&self.plugin).map(PluginSource::Oci);
        }
        let file = self.plugin.as_str();
        let plain = !file.is_empty()
            && !file.contains('/')
            && !file.contains('\\')
            && !file.starts_with('.');
        if !plain || !file.ends_with(".wasm") {
            return Err(format!(
                "plugin {file:?} must be builtin:<name>, a .wasm file name in the policy directory (no path), or oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST"
            ));
        }
        Ok(PluginSource::File(dir.join(file)))
    }
}
