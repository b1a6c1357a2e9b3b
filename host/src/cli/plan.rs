//! `bindery plan --catalog FILE [--policy PATH] [--operator-namespace NS]`
//! (and the registry flags, for `oci://` plugins)
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bindery::project::services;

pub fn run(
    catalog: &Path,
    policy: Option<&Path>,
    operator_namespace: &str,
    strict: bool,
    registry: &super::registry::RegistryArgs,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        bindery::model::is_rfc1123_label(operator_namespace),
        "--operator-namespace {operator_namespace:?} is not a namespace name (RFC 1123 label)"
    );
    let (loaded, _plugins, outcome) =
        super::prepare(catalog, policy, operator_namespace, registry)?;
    let objects = services(&outcome.projections, &loaded.policy, operator_namespace);
    let mut out = String::new();
    for svc in &objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(svc).context("serializing a Service")?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    print!("{out}");
    let errors = super::report_rejections(&outcome);
    eprintln!(
        "plan: {} projected URL(s) as {} Service(s); {} rejected; {} skipped",
        outcome.projections.len(),
        objects.len(),
        errors,
        outcome.rejections.len() - errors
    );
    Ok(if strict && errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
