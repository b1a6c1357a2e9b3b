//! `bindery plan --catalog FILE [--policy PATH] [--operator-namespace NS]`
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bindery::pipeline::{self, RejectKind};
use bindery::plugin::Generation;
use bindery::project::{Allocation, services};

pub fn run(
    catalog: &Path,
    policy: Option<&Path>,
    operator_namespace: &str,
    strict: bool,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        bindery::model::is_rfc1123_label(operator_namespace),
        "--operator-namespace {operator_namespace:?} is not a namespace name (RFC 1123 label)"
    );
    let loaded = bindery::policy::load(policy)?;
    let entries = bindery::catalog::load_file(catalog)?;
    let runtime = super::runtime()?;
    let plugins = match Generation::load(&runtime, &loaded) {
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
    let outcome = pipeline::run(
        entries,
        &loaded.policy,
        &plugins,
        operator_namespace,
        &Allocation::new(),
    );
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
