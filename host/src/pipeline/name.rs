//! Naming: the naming plugin's answer for each pool, checked against
//! Kubernetes' rules and against every other projection before use.
use std::collections::BTreeMap;

use super::rejection::{RejectKind, Rejection};
use super::types::{Named, Names, Pool};
use crate::catalog::Mode;
use crate::model::{Scheme, is_rfc1035_label, is_rfc1123_label};
use crate::plugin::NamingPlugin;
use crate::plugin::bindings::naming::NamingContext;
use crate::plugin::convert;

/// Name every pool. Pools come sorted by URL, so the first to claim a name
/// keeps it whatever the catalog order.
pub fn name(
    pools: Vec<Pool>,
    naming: &NamingPlugin,
    context: &NamingContext,
) -> (Vec<Named>, Vec<Rejection>) {
    let mut named: Vec<Named> = Vec::new();
    let mut rejected = Vec::new();
    // target -> (upstream, url, mode); upstream -> target; (target, port) -> (scheme, url)
    let mut by_target: BTreeMap<String, (String, String, Mode)> = BTreeMap::new();
    let mut by_upstream: BTreeMap<String, String> = BTreeMap::new();
    let mut ports: BTreeMap<(String, u16), (Scheme, String)> = BTreeMap::new();
    for pool in pools {
        let url = pool.key.url.to_string();
        let reject = |kind, message: String| {
            pool.entries
                .iter()
                .map(|e| Rejection::new(e, Some(&url), kind, message.clone()))
                .collect::<Vec<_>>()
        };
        let wit = convert::pool_endpoint(&pool.first, pool.upstreams.iter().map(|m| &m.upstream));
        let names = match naming.names(&wit, context) {
            Ok(n) => Names {
                upstream: n.upstream_name,
                target_name: n.target_name,
                target_namespace: n.target_namespace,
            },
            Err(e) => {
                rejected.extend(reject(RejectKind::NamingFailed, e.to_string()));
                continue;
            }
        };
        if let Err(m) = check_rules(&names) {
            let m = format!("naming plugin {} returned {m}", naming.info().name);
            rejected.extend(reject(RejectKind::InvalidName, m));
            continue;
        }
        let target = names.target();
        let mode = pool.first.mode;
        if let Some((_, other, theirs)) = by_target.get(&target).filter(|(_, _, m)| *m != mode) {
            let m = format!(
                "target Service {target} is already projected by {other} in {theirs} mode, and this URL's mode is {mode}; one Service is either an ExternalName (proxy) or lists the upstreams (direct): give every URL of one target the same mode, or another name"
            );
            rejected.extend(reject(RejectKind::ModeConflict, m));
            continue;
        }
        // Direct mode makes no upstream Service: its name is not used.
        let proxy = mode == Mode::Proxy;
        if let Some((upstream, other, _)) = by_target
            .get(&target)
            .filter(|(u, _, _)| proxy && *u != names.upstream)
        {
            let m = format!(
                "target Service {target} is already projected by {other} through upstream {upstream}, but the naming plugin gave {} for this URL; every URL of one target must share its upstream name",
                names.upstream
            );
            rejected.extend(reject(RejectKind::NameCollision, m));
            continue;
        }
        if let Some(other) = by_upstream
            .get(&names.upstream)
            .filter(|t| proxy && **t != target)
        {
            let m = format!(
                "upstream Service {} already fronts target {other}; the naming plugin must give each target its own upstream name",
                names.upstream
            );
            rejected.extend(reject(RejectKind::NameCollision, m));
            continue;
        }
        let port_key = (target.clone(), pool.key.url.port);
        if let Some((scheme, other)) = ports.get(&port_key) {
            let m = format!(
                "port {} of {target} is already projected by {other} ({scheme}); one port of a Service carries one URL: use another port",
                pool.key.url.port
            );
            rejected.extend(reject(RejectKind::NameCollision, m));
            continue;
        }
        by_target.insert(target.clone(), (names.upstream.clone(), url.clone(), mode));
        if proxy {
            by_upstream.insert(names.upstream.clone(), target);
        }
        ports.insert(port_key, (pool.key.url.scheme, url));
        named.push(Named { pool, names });
    }
    (named, rejected)
}

fn check_rules(n: &Names) -> Result<(), String> {
    if !is_rfc1035_label(&n.upstream) {
        return Err(format!(
            "upstream name {:?}, which is not an RFC 1035 label (a-z first, then a-z, 0-9, '-', at most 63, no trailing '-')",
            n.upstream
        ));
    }
    if !is_rfc1035_label(&n.target_name) {
        return Err(format!(
            "target name {:?}, which is not an RFC 1035 label (a-z first, then a-z, 0-9, '-', at most 63, no trailing '-')",
            n.target_name
        ));
    }
    if !is_rfc1123_label(&n.target_namespace) {
        return Err(format!(
            "target namespace {:?}, which is not an RFC 1123 label (a-z, 0-9, '-', at most 63)",
            n.target_namespace
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "name_tests.rs"]
mod tests;
