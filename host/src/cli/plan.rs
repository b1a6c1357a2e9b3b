//! `bindery plan --catalog FILE [--policy PATH] [--operator-namespace NS]`
//! (and the registry flags, for `oci://` plugins): the Services of proxy
//! projections, and the Service and EndpointSlices of direct ones (DNS
//! names resolved here; every address listed ready, since only the
//! operator's health checks say otherwise).
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bindery::pipeline::project::{direct, ignored, services};
use bindery::pipeline::{Projection, Reach};
use serde::Serialize;

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
    let (directs, listings) = direct(&outcome.projections, &resolve(&outcome.projections));
    let mut out = String::new();
    let mut slices = 0;
    for svc in &objects {
        document(&mut out, svc)?;
    }
    for d in &directs {
        document(&mut out, &d.service)?;
        for s in &d.slices {
            document(&mut out, s)?;
        }
        slices += d.slices.len();
    }
    print!("{out}");
    let errors = report_rejections(&outcome);
    for p in &outcome.projections {
        let url = &p.key.url;
        for note in ignored(p, &loaded.policy) {
            eprintln!("note {url}: direct mode: {note}");
        }
        for problem in listings.get(&p.key.id()).iter().flat_map(|l| &l.problems) {
            eprintln!("left out {url}: {problem}");
        }
    }
    eprintln!(
        "plan: {} projected URL(s) as {} Service(s) and {slices} EndpointSlice(s); {} rejected; {} skipped",
        outcome.projections.len(),
        objects.len() + directs.len(),
        errors,
        outcome.rejections.len() - errors
    );
    Ok(if strict && errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// One object of the YAML stream.
fn document(out: &mut String, object: &impl Serialize) -> anyhow::Result<()> {
    out.push_str("---\n");
    out.push_str(&serde_saphyr::to_string(object).context("serializing an object")?);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(())
}

/// The DNS names of direct projections' upstreams, resolved by this
/// machine's resolver as the operator resolves them in its pod.
fn resolve(projections: &[Projection]) -> Reach {
    let mut reach = Reach::default();
    for p in projections.iter().filter(|p| p.port().is_none()) {
        let url = p.key.url.to_string();
        for m in &p.upstreams {
            let address = &m.upstream.address;
            if address.parse::<std::net::SocketAddr>().is_ok() {
                continue;
            }
            let answer = address
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
                .and_then(|ips| {
                    if ips.is_empty() {
                        Err("no address in the answer".to_string())
                    } else {
                        Ok(ips)
                    }
                });
            reach
                .resolved
                .insert((url.clone(), address.clone()), answer);
        }
    }
    reach
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
