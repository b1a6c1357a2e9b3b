//! The admin server of `bindery standalone`, as an operator's probes and
//! scrapers see it: health, readiness, the plugins in effect with their
//! hashes and generation, each projection's state, and a refused reload
//! reported while the previous generation keeps serving.
mod support;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::forward::{Standalone, free_port, http_get};
use support::wait_for;

/// `GET path` with `Connection: close`: (status, body). The admin server
/// may start listening just after the endpoint lines are printed.
fn get(admin: SocketAddr, path: &str) -> (u16, String) {
    wait_for(
        Duration::from_secs(10),
        "the admin server to listen",
        || TcpStream::connect(admin).is_ok(),
    );
    http_get(admin, "admin", path, &[])
}

fn json(admin: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = get(admin, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"))
}

/// The value of an unlabelled metric line `name value`.
fn metric(admin: SocketAddr, name: &str) -> f64 {
    let (_, text) = get(admin, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[test]
fn admin_endpoints_show_plugins_projections_and_a_refused_reload() {
    let catalog = "endpoints:\n  - url: tcp://db.prod:5432\n    labels: {team: data}\n    upstreams: [{address: \"127.0.0.1:15999\"}]\n  - url: tcp://bad.prod\n    upstreams: [{address: \"127.0.0.1:1\"}]\n";
    let policy = "endpointSelectors: [\"endpoint.labels.team == 'data'\"]\nrouter: {plugin: builtin:least-connections}\n";
    let port = free_port();
    let admin = SocketAddr::from(([127, 0, 0, 1], port));
    let fwd = Standalone::start_with(policy, catalog, &[], 1, &["--admin", &admin.to_string()]);

    assert_eq!(get(admin, "/healthz").0, 200);
    let (status, ready) = get(admin, "/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(get(admin, "/nothing").0, 404);

    let plugins = json(admin, "/v1/plugins");
    let generation = plugins["generation"].as_u64().expect("a generation");
    let list = plugins["plugins"].as_array().expect("plugins");
    let names: Vec<(&str, &str)> = list
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or(""),
                p["world"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("builtin:cel", "selector"),
            ("builtin:naming-default", "naming"),
            ("builtin:least-connections", "router")
        ]
    );
    for p in list {
        let sha = p["sha256"].as_str().unwrap_or("");
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{p}"
        );
        assert_eq!(p["generation"].as_u64(), Some(generation));
    }
    assert!(plugins["last_failure"].is_null(), "{plugins}");

    let endpoints = json(admin, "/v1/endpoints");
    let served = &endpoints["endpoints"][0];
    assert_eq!(served["url"], "tcp://db.prod:5432");
    assert_eq!(
        served["listening"],
        fwd.endpoint("tcp://db.prod:5432").to_string()
    );
    assert_eq!(served["upstreams"][0]["address"], "127.0.0.1:15999");
    let rejected = endpoints["rejected"].to_string();
    assert!(rejected.contains("tcp://bad.prod"), "{endpoints}");

    // A policy that does not compile is refused, reported, and the
    // generation in effect stays.
    let failed_before = metric(admin, "bindery_reload_failed_total");
    std::fs::write(
        fwd.dir.path().join("policy.yaml"),
        "endpointSelectors: [\"endpoint.labels.team ==\"]\n",
    )
    .expect("write the broken policy");
    let mut plugins = serde_json::Value::Null;
    wait_for(
        Duration::from_secs(10),
        "the failure to be reported",
        || {
            plugins = json(admin, "/v1/plugins");
            !plugins["last_failure"].is_null()
        },
    );
    assert_eq!(
        plugins["generation"].as_u64(),
        Some(generation),
        "{plugins}"
    );
    assert!(
        plugins["last_failure"].to_string().contains("team =="),
        "{plugins}"
    );
    assert_eq!(
        metric(admin, "bindery_reload_failed_total"),
        failed_before + 1.0
    );
    assert_eq!(
        get(admin, "/readyz").0,
        200,
        "still ready on the previous generation"
    );
}

/// `bindery standalone` does not serve a direct endpoint (kube-proxy
/// would): a log line says so, and `/v1/endpoints` lists it not served.
#[test]
fn standalone_lists_direct_endpoints_as_not_served() {
    let catalog = "endpoints:\n  - url: tcp://db.direct:5433\n    upstreams: [{address: \"127.0.0.1:15998\"}]\n  - url: tcp://rgw.storage:7480\n    mode: direct\n    upstreams: [{address: \"10.0.0.11:7480\"}]\n";
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let fwd = Standalone::start_with(
        "account: default\n",
        catalog,
        &[],
        1,
        &["--admin", &admin.to_string()],
    );
    assert_eq!(fwd.lines.len(), 1, "{:?}", fwd.lines);
    let endpoints = json(admin, "/v1/endpoints");
    let list = endpoints["endpoints"].as_array().expect("endpoints");
    let direct = list
        .iter()
        .find(|e| e["url"] == "tcp://rgw.storage:7480")
        .unwrap_or_else(|| panic!("{endpoints}"));
    assert_eq!(direct["mode"], "direct");
    assert_eq!(direct["served"], false);
    assert!(direct["port"].is_null(), "no forwarder port: {direct}");
    let proxy = list
        .iter()
        .find(|e| e["url"] == "tcp://db.direct:5433")
        .unwrap_or_else(|| panic!("{endpoints}"));
    assert_eq!(proxy["served"], true);
    wait_for(Duration::from_secs(10), "the log line", || {
        fwd.log().contains("not served by bindery standalone")
    });
}
