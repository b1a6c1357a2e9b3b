//! The flags that say where plugins are cached and how registries are
//! reached; shared by every command that loads plugins.
use std::path::PathBuf;
use std::time::Duration;

use bindery::artifact::{Mirror, RegistryOptions};
use bindery::plugin::RuntimeOptions;

#[derive(clap::Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Where compiled plugins and pulled OCI artifacts are kept [default:
    /// $BINDERY_CACHE_DIR, else $XDG_CACHE_HOME/bindery, else ~/.cache/bindery]
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Registry credentials: a dockerconfigjson file, e.g. the
    /// .dockerconfigjson key of a kubernetes.io/dockerconfigjson Secret.
    /// Read on every fetch. Without it registries are asked anonymously.
    #[arg(long, value_name = "FILE")]
    registry_auth: Option<PathBuf>,
    /// PEM file of CA certificates trusted for registries besides the
    /// system's.
    #[arg(long, value_name = "FILE")]
    registry_ca: Option<PathBuf>,
    /// A registry (HOST or HOST:PORT) that may be reached over plain HTTP
    /// when HTTPS fails; repeatable. Loopback addresses always may.
    #[arg(long = "registry-insecure", value_name = "REGISTRY")]
    registry_insecure: Vec<String>,
    /// REGISTRY=MIRROR: fetch REGISTRY's plugins from MIRROR first (for
    /// air-gapped clusters); repeatable, tried in order, then REGISTRY.
    #[arg(long = "registry-mirror", value_name = "REGISTRY=MIRROR")]
    registry_mirror: Vec<Mirror>,
    /// Re-resolve the tags of oci:// plugins this often; a moved tag
    /// reloads the policy. 0: only when the policy reloads.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    registry_refresh_seconds: u64,
}

impl RegistryArgs {
    pub fn runtime_options(&self) -> RuntimeOptions {
        let mut options = RuntimeOptions::with_cache(
            self.cache_dir
                .clone()
                .or_else(bindery::plugin::default_cache_dir),
        );
        options.registry = RegistryOptions {
            auth_file: self.registry_auth.clone(),
            ca_file: self.registry_ca.clone(),
            insecure: self.registry_insecure.clone(),
            mirrors: self.registry_mirror.clone(),
            refresh: (self.registry_refresh_seconds > 0)
                .then(|| Duration::from_secs(self.registry_refresh_seconds)),
            cache_dir: options.registry.cache_dir.take(),
        };
        options
    }
}
