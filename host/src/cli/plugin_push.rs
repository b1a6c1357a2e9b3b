//! `bindery plugin push FILE.wasm oci://REGISTRY/REPO:TAG`: the component
//! is checked to implement a world of this release's WIT package, then
//! pushed as a WebAssembly OCI artifact (CNCF layout: config
//! `application/vnd.wasm.config.v0+json`, one `application/wasm` layer).
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bindery::artifact::OciRef;

use super::registry::RegistryArgs;

pub fn run(file: &Path, reference: &str, registry: &RegistryArgs) -> anyhow::Result<ExitCode> {
    let target = OciRef::parse(reference).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        target.tag().is_some(),
        "{reference}: push to a tag (oci://REGISTRY/REPO:TAG); the digest is what the registry answers"
    );
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let runtime = super::runtime(registry)?;
    let name = file.display().to_string();
    let inspected = runtime
        .inspect(&name, &bytes)
        .with_context(|| format!("{name} was not pushed"))?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (package, version) = bindery::plugin::WIT_PACKAGE
        .split_once('@')
        .unwrap_or((bindery::plugin::WIT_PACKAGE, ""));
    let config = serde_json::json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [format!("sha256:{}", inspected.sha256)],
        "component": {
            "target": format!("{package}/{}@{version}", inspected.world),
        },
    });
    let digest = runtime
        .artifacts()
        .push(&target, bytes, serde_json::to_vec(&config)?)
        .with_context(|| format!("{name} was not pushed"))?;
    let pinned = target.at(&digest);
    println!(
        "{target}: pushed {name} (world {}, sha256 {})",
        inspected.world, inspected.sha256
    );
    println!("  digest: {digest}");
    println!("  pin it as: {pinned}");
    Ok(ExitCode::SUCCESS)
}
