//! `bindery plugin check FILE.wasm [--config JSON]`
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bindery::plugin::World;
use bindery::plugin::naming::NamingWorld;
use bindery::plugin::router::RouterWorld;
use bindery::plugin::selector::SelectorWorld;
use bindery::policy::Limits;

pub fn run(file: &Path, config: &str) -> anyhow::Result<ExitCode> {
    let config: serde_json::Value = serde_json::from_str(config)
        .with_context(|| format!("--config is not valid JSON: {config}"))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let runtime = super::runtime()?;
    let name = file.display().to_string();
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
