//! `bindery plan --catalog FILE [--policy PATH] [--operator-namespace NS]`
//! (and the registry flags, for `oci://` plugins)
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bindery::pipeline::project::services;

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
    let (loaded, _plugins, outcome) = prepare(catalog, policy, operator_namespace, registry)?;
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
    let errors = report_rejections(&outcome);
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

/// Policy, plugins and the pipeline run over the catalog file.
fn prepare(
    catalog: &std::path::Path,
    policy: Option<&std::path::Path>,
    operator_namespace: &str,
    registry: &super::registry::RegistryArgs,
) -> anyhow::Result<(
    bindery::policy::LoadedPolicy,
    bindery::plugin::Generation,
    bindery::pipeline::Outcome,
)> {
    anyhow::ensure!(
        bindery::model::is_rfc1123_label(operator_namespace),
        "--operator-namespace {operator_namespace:?} is not a namespace name (RFC 1123 label)"
    );
    let loaded = bindery::policy::load(policy)?;
    let entries = bindery::catalog::load_file(catalog)?;
    let runtime = super::runtime(registry)?;
    let plugins = match bindery::plugin::Generation::load(&runtime, &loaded) {
        Ok(g) => g,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            anyhow::bail!(
                "policy {} was not loaded: {} plugin error(s)",
                loaded.origin,
                errors.len()
            );
        }
    };
    let outcome = bindery::pipeline::run(
        entries,
        &loaded.policy,
        &plugins,
        operator_namespace,
        &bindery::pipeline::Allocation::new(),
    );
    Ok((loaded, plugins, outcome))
}

/// One stderr line per entry left out; returns how many were errors (not
/// merely unselected or of another account).
fn report_rejections(outcome: &bindery::pipeline::Outcome) -> usize {
    use bindery::pipeline::RejectKind;
    let mut errors = 0;
    for r in &outcome.rejections {
        let verb = match r.kind {
            RejectKind::OtherAccount | RejectKind::NotSelected => "skipped",
            _ => {
                errors += 1;
                "rejected"
            }
        };
        eprintln!("{verb} {r}");
    }
    errors
}
