//! `bindery plugin check FILE.wasm|oci://... [--config JSON]`
use std::process::ExitCode;

use anyhow::Context;
use bindery::artifact::OciRef;
use bindery::plugin::World;
use bindery::plugin::naming::NamingWorld;
use bindery::plugin::router::RouterWorld;
use bindery::plugin::selector::SelectorWorld;
use bindery::policy::Limits;

use super::registry::RegistryArgs;

pub fn run(plugin: &str, config: &str, registry: &RegistryArgs) -> anyhow::Result<ExitCode> {
    let config: serde_json::Value = serde_json::from_str(config)
        .with_context(|| format!("--config is not valid JSON: {config}"))?;
    let runtime = super::runtime(registry)?;
    let name = plugin.to_string();
    let (bytes, artifact) = if plugin.starts_with(bindery::artifact::reference::SCHEME) {
        let reference = OciRef::parse(plugin).map_err(anyhow::Error::msg)?;
        match runtime.artifacts().fetch(&reference) {
            Ok(f) => {
                let lines = format!(
                    "  manifest: {}\n  layer: {}\n  source: {}",
                    f.manifest, f.media_type, f.source
                );
                (f.bytes, Some(lines))
            }
            Err(e) => {
                println!("{name}: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    } else {
        let bytes = std::fs::read(plugin).with_context(|| format!("cannot read {plugin}"))?;
        (bytes, None)
    };
    let inspected = match runtime.inspect(&name, &bytes) {
        Ok(i) => i,
        Err(e) => {
            println!("{name}: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "{name}: world {} ({})",
        inspected.world,
        bindery::plugin::WIT_PACKAGE
    );
    if let Some(lines) = artifact {
        println!("{lines}");
    }
    println!("  sha256: {}", inspected.sha256);
    let limits = Limits::default();
    let configured = match inspected.world {
        World::Selector => runtime
            .load_bytes::<SelectorWorld>(&name, &bytes, &config, limits)
            .map(|_| ()),
        World::Naming => runtime
            .load_bytes::<NamingWorld>(&name, &bytes, &config, limits)
            .map(|_| ()),
        World::Router => runtime
            .load_bytes::<RouterWorld>(&name, &bytes, &config, limits)
            .map(|_| ()),
    };
    match configured {
        Ok(()) => {
            println!("  configure: ok");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("  configure: failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
