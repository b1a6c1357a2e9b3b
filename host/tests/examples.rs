//! The plugin examples of `examples/`, built from their sources and used as
//! their READMEs use them: `bindery plugin check` on each component, `bindery
//! plan` for the custom names, and real requests and connections through
//! `bindery standalone` to upstream servers on 127.0.0.1 for the Rust and
//! the Python router, with the policy directory laid out as the ConfigMap
//! (the example's `policy.yaml` and the `.wasm` beside it, or for the
//! Python router, pushed to a registry on loopback and named by reference).
//!
//! The Rust examples build with cargo for wasm32-wasip2 into
//! `$CARGO_TARGET_DIR/examples`; the Python one with its `build` script,
//! given the venv where `testenv/setup` installed the pinned componentize-py
//! (the script skips the build when the sources are unchanged).
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Service;
use sha2::{Digest, Sha256};
use support::forward::{
    Server, Standalone, ask, catalog_of, entry, http_get, on_free_ports, tagged,
};
use support::registry::{Options as RegistryOptions, Registry};
use support::{bindery, build_components, repo_root, services, target_root, tools};

fn example(path: &str) -> PathBuf {
    repo_root().join("examples").join(path)
}

/// A Rust example's component, built by cargo as its README says.
fn rust_component(example: &str, file: &str) -> PathBuf {
    build_components(&format!("examples/{example}"), "examples").join(format!("{file}.wasm"))
}

/// The Python router's component, built once per test run by its script.
fn python_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = target_root().join("examples-python/router.wasm");
        let venv = tools::componentize_py_venv();
        let status = Command::new(example("python-router/build"))
            .arg(&out)
            .env("BINDERY_TOOLS_VENV", venv)
            .status()
            .expect("running examples/python-router/build");
        assert!(status.success(), "examples/python-router/build failed");
        out
    })
}

/// `bindery plugin check` of a file or an `oci://` reference.
fn plugin_check(wasm: &std::ffi::OsStr, config: &str) -> Output {
    bindery()
        .args(["plugin", "check"])
        .arg(wasm)
        .args(["--config", config])
        .output()
        .expect("running bindery plugin check")
}

/// `bindery plugin check` accepts `good` and refuses `bad` with `why`.
fn checks(wasm: impl AsRef<std::ffi::OsStr>, world: &str, good: &str, bad: &str, why: &str) {
    let wasm = wasm.as_ref();
    let ok = plugin_check(wasm, good);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("world {world} ({})", bindery::plugin::WIT_PACKAGE))
            && stdout.contains("configure: ok"),
        "{stdout}"
    );
    let refused = plugin_check(wasm, bad);
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{bad} accepted: {stdout}");
    assert!(
        stdout.contains("configure: failed") && stdout.contains(why),
        "{stdout}"
    );
}

/// The example's `policy/policy.yaml`.
fn example_policy(example: &str) -> String {
    let path = self::example(example).join("policy/policy.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---------------------------------------------------------------- naming

/// The rule of the README: the target name shortened to 50, then 12 hex
/// characters of SHA-256 over the account, namespace and target name.
fn team_upstream(namespace: &str, target: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"default\0")
        .chain_update(namespace)
        .chain_update([0])
        .chain_update(target)
        .finalize();
    let head = target[..target.len().min(50)].trim_end_matches('-');
    format!("{head}-{}", hex::encode(&digest[..6]))
}

fn named<'a>(all: &'a [Service], namespace: &str, name: &str) -> &'a Service {
    all.iter()
        .find(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata.name.as_deref() == Some(name)
        })
        .unwrap_or_else(|| panic!("no Service {namespace}/{name} in the plan"))
}

#[test]
fn custom_naming_checks_and_plans_team_names() {
    let wasm = rust_component("custom-naming", "custom_naming");
    checks(
        &wasm,
        "naming",
        r#"{"teamLabel": "team"}"#,
        r#"{"defaultTeam": "Ops"}"#,
        r#"defaultTeam "Ops" is not usable in a Service name"#,
    );

    let policy = example_policy("custom-naming");
    let dir = support::dir_with(&[
        ("policy.yaml", policy.as_bytes()),
        ("custom_naming.wasm", &read(&wasm)),
    ]);
    let out = bindery()
        .args(["plan", "--catalog"])
        .arg(example("custom-naming/catalog.yaml"))
        .arg("--policy")
        .arg(dir.path())
        .output()
        .expect("running bindery plan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let all = services(&out.stdout);

    // Target namespace, target name, ports: the catalog's five URLs.
    let targets: [(&str, &str, &[i32]); 4] = [
        ("storage", "storage-rgw", &[7480]),
        ("archive", "storage-rgw", &[7480]),
        ("billing", "billing-orders-db", &[5432, 9187]),
        (
            "warehouse",
            "data-platform-clickhouse-analytics-eu-west-1-shard-01",
            &[9000],
        ),
    ];
    let mut upstreams = Vec::new();
    for (namespace, name, ports) in targets {
        let target = named(&all, namespace, name);
        let upstream = team_upstream(namespace, name);
        assert!(upstream.len() <= 63, "{upstream}");
        let spec = target.spec.as_ref().expect("spec");
        assert_eq!(
            spec.external_name.as_deref(),
            Some(format!("{upstream}.bindery-system.svc.cluster.local").as_str()),
            "{namespace}/{name}"
        );
        let fronting = named(&all, "bindery-system", &upstream);
        let served: Vec<i32> = fronting
            .spec
            .as_ref()
            .expect("spec")
            .ports
            .as_ref()
            .expect("ports")
            .iter()
            .map(|p| p.port)
            .collect();
        assert_eq!(served, ports, "ports of {upstream}");
        upstreams.push(upstream);
    }
    assert_eq!(
        all.len(),
        2 * targets.len(),
        "a target and an upstream Service per host"
    );
    upstreams.sort();
    upstreams.dedup();
    assert_eq!(
        upstreams.len(),
        targets.len(),
        "upstream names collide: {upstreams:?}"
    );
    assert!(
        upstreams.iter().any(|u| u.len() == 63),
        "the long name is shortened to exactly 63: {upstreams:?}"
    );

    for refused in [
        r#"endpoints[5] (http://wiki.docs:80): NamingFailed: plugin custom_naming.wasm: names returned an error: no "team" label and no defaultTeam"#,
        r#"endpoints[6] (http://grafana.monitoring:3000): NamingFailed: plugin custom_naming.wasm: names returned an error: label team="SRE_Team" is not usable"#,
    ] {
        assert!(stderr.contains(refused), "{stderr}");
    }
}

// --------------------------------------------------------------- routers

/// An HTTP upstream answering every request with `"<name> <path>"`, then
/// closing: no connection of the forwarder's pool outlives the server.
fn named_http(name: &'static str) -> Server {
    Server::start(move |s| {
        let Ok(mut w) = s.try_clone() else { return };
        let mut r = BufReader::new(s);
        let mut line = String::new();
        if r.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("?").to_string();
        while line != "\r\n" {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
        }
        let body = format!("{name} {path}\n");
        let _ = write!(
            w,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    })
}

const API: &str = "http://api.shop:8080";
const CACHE: &str = "tcp://cache.shop:6379";

/// The upstreams of `examples/custom-router/catalog.yaml`, on free ports.
struct Shop {
    http: BTreeMap<&'static str, Server>,
    _tcp: Vec<Server>,
    catalog: String,
}

/// TCP upstreams greet with their index: 0 for acme's cache, 1 for the
/// shared one.
fn shop() -> Shop {
    let tenants = [
        ("acme-1", "acme"),
        ("acme-2", "acme"),
        ("globex-1", "globex"),
        ("shared-1", "shared"),
    ];
    let mut entries = Vec::new();
    let tenant = |url: &str, tenant: &str, addr: SocketAddr| {
        entry(url, &[addr], &format!("labels: {{tenant: {tenant}}}"))
    };
    let mut http = BTreeMap::new();
    for (name, owner) in tenants {
        let server = named_http(name);
        entries.push(tenant(API, owner, server.addr));
        http.insert(name, server);
    }
    let tcp: Vec<Server> = (0..2).map(|i| Server::start(tagged(i))).collect();
    entries.push(tenant(CACHE, "acme", tcp[0].addr));
    entries.push(tenant(CACHE, "shared", tcp[1].addr));
    Shop {
        http,
        _tcp: tcp,
        catalog: catalog_of(&entries),
    }
}

/// One GET with `headers` on a connection of its own: status and body.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http_get(addr, "api.shop:8080", path, headers)
}

/// Which upstreams answered `n` requests, by name; panics on a non-200.
fn answered(
    addr: SocketAddr,
    n: usize,
    path: &str,
    headers: &[(&str, &str)],
) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let (status, body) = get(addr, path, headers);
        assert_eq!(status, 200, "{path} {headers:?}: {body}");
        let (name, echoed) = body
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("{body:?}"));
        assert_eq!(echoed, path);
        *seen.entry(name.to_string()).or_insert(0) += 1;
    }
    seen
}

fn only(name: &str, n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(name.to_string(), n)])
}

/// The tenant router of examples/custom-router (and its Python twin) under
/// the example's own policy: every decision its README shows.
/// The example's policy (edited by `edit`) with its component beside it
/// when `plugin` names one (else the policy references it elsewhere).
fn routes_by_tenant(
    example: &str,
    plugin: Option<(&str, &Path)>,
    edit: impl Fn(String) -> String,
    args: &[&str],
) {
    let mut shop = shop();
    let policy = on_free_ports(&edit(example_policy(example)), 2);
    let component = plugin.map(|(name, path)| (name, read(path)));
    let files: Vec<(&str, &[u8])> = component
        .iter()
        .map(|(name, bytes)| (*name, bytes.as_slice()))
        .collect();
    let fwd = Standalone::start_with(&policy, &shop.catalog, &files, 2, args);
    let api = fwd.endpoint(API);

    // By header: only the tenant's upstreams, in turn.
    let acme = answered(api, 10, "/orders", &[("x-tenant", "acme")]);
    assert_eq!(
        acme.keys().collect::<Vec<_>>(),
        ["acme-1", "acme-2"],
        "{acme:?}"
    );
    assert!(
        acme.values().all(|&n| n >= 3),
        "acme's upstreams not taken in turn: {acme:?}"
    );
    assert_eq!(
        answered(api, 4, "/orders", &[("x-tenant", "globex")]),
        only("globex-1", 4)
    );
    assert_eq!(
        answered(api, 2, "/orders", &[("X-Tenant", "shared")]),
        only("shared-1", 2)
    );
    // By path prefix when there is no header; else the default tenant.
    let by_path = answered(api, 4, "/acme/orders", &[]);
    assert!(
        by_path.keys().all(|k| k.starts_with("acme-")),
        "{by_path:?}"
    );
    assert_eq!(answered(api, 3, "/globex/orders", &[]), only("globex-1", 3));
    assert_eq!(answered(api, 3, "/orders", &[]), only("shared-1", 3));
    // The header wins over the path.
    assert_eq!(
        answered(api, 3, "/acme/orders", &[("x-tenant", "globex")]),
        only("globex-1", 3)
    );
    // A tenant without upstreams is refused, not served by another's.
    let (status, body) = get(api, "/orders", &[("x-tenant", "initech")]);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(r#"no upstream for tenant "initech""#),
        "{body}"
    );

    // TCP: the default tenant.
    let cache = fwd.endpoint(CACHE);
    for _ in 0..4 {
        assert_eq!(
            ask(cache).expect("a connection through the cache endpoint"),
            1
        );
    }

    // acme-1 down: acme's requests all reach acme-2; globex down: 502,
    // still never another tenant's upstream.
    drop(shop.http.remove("acme-1"));
    assert_eq!(
        answered(api, 6, "/orders", &[("x-tenant", "acme")]),
        only("acme-2", 6)
    );
    drop(shop.http.remove("globex-1"));
    let (status, body) = get(api, "/orders", &[("x-tenant", "globex")]);
    assert_eq!(status, 502, "{body}");

    let log = fwd.log();
    assert!(
        !log.contains("plugin instance discarded"),
        "the router failed:\n{log}"
    );
}

#[test]
fn custom_router_routes_each_tenant_to_its_upstreams() {
    let wasm = rust_component("custom-router", "custom_router");
    checks(
        &wasm,
        "router",
        r#"{"paths": {"/acme/": "acme"}, "default": "shared"}"#,
        r#"{"paths": {"acme": "acme"}}"#,
        r#"path prefix "acme" must start with '/'"#,
    );
    routes_by_tenant(
        "custom-router",
        Some(("custom_router.wasm", &wasm)),
        |p| p,
        &[],
    );
}

/// As its README runs it: pushed to a registry on loopback, checked from
/// there, and named by reference in the example's policy.
#[test]
fn python_router_from_a_registry_routes_each_tenant_to_its_upstreams() {
    let wasm = python_component();
    let registry = Registry::start(RegistryOptions::default());
    let reference = registry.reference("examples/python-router:v1");
    let out = bindery()
        .args(["plugin", "push"])
        .arg(wasm)
        .arg(&reference)
        .output()
        .expect("running bindery plugin push");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    checks(
        &reference,
        "router",
        r#"{"paths": {"/acme/": "acme"}, "default": "shared"}"#,
        r#"{"paths": {"acme": "acme"}}"#,
        r#"path prefix "acme" must start with '/'"#,
    );
    let example = "oci://127.0.0.1:5000/examples/python-router:v1";
    let policy = example_policy("python-router");
    assert!(
        policy.contains(example),
        "the example's policy names {example}:\n{policy}"
    );
    routes_by_tenant(
        "python-router",
        None,
        |p| p.replace(example, &reference),
        &[],
    );
}
