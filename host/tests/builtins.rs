//! The built-in plugins, through the runtime, as the pipeline uses them.
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bindery::plugin::bindings::naming::NamingContext;
use bindery::plugin::bindings::{Endpoint, Scheme, Upstream};
use bindery::plugin::naming::NamingWorld;
use bindery::plugin::router::RouterWorld;
use bindery::plugin::selector::SelectorWorld;
use bindery::plugin::{Decision, NamingPlugin, PluginError, RouterPlugin, SelectorPlugin};
use bindery::policy::PluginRef;
use serde_json::json;
use support::{Pool, pool, runtime};

fn endpoint(url: &str, account: &str, labels: &[(&str, &str)]) -> Endpoint {
    let parsed = bindery::model::EndpointUrl::parse(url).unwrap();
    Endpoint {
        url: url.into(),
        scheme: if parsed.scheme == bindery::model::Scheme::Http {
            Scheme::Http
        } else {
            Scheme::Tcp
        },
        name: parsed.name,
        namespace: parsed.namespace,
        port: parsed.port,
        account: account.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        metadata: vec![("owner".into(), "ceph".into())],
        upstreams: vec![
            Upstream {
                address: "10.0.0.11:7480".into(),
                weight: 1,
            },
            Upstream {
                address: "10.0.0.12:7480".into(),
                weight: 3,
            },
        ],
    }
}

fn cel(expressions: &[&str]) -> Result<Arc<SelectorPlugin>, PluginError> {
    let mut r = PluginRef::builtin("cel");
    r.config = json!({ "expressions": expressions });
    runtime().load::<SelectorWorld>(&r, Path::new("."))
}

fn builtin_router(name: &str, config: serde_json::Value) -> Arc<RouterPlugin> {
    let mut r = PluginRef::builtin(name);
    r.config = config;
    runtime().load::<RouterWorld>(&r, Path::new(".")).unwrap()
}

#[test]
fn cel_sees_every_documented_variable() {
    let e = endpoint("http://rgw.storage:7480", "default", &[("team", "storage")]);
    for expr in [
        "endpoint.url == 'http://rgw.storage:7480'",
        "endpoint.scheme == 'http'",
        "endpoint.name == 'rgw' && endpoint.namespace == 'storage'",
        "endpoint.port == 7480",
        "endpoint.account == 'default'",
        "endpoint.labels.team == 'storage'",
        "endpoint.metadata.owner == 'ceph'",
        "size(endpoint.upstreams) == 2 && endpoint.upstreams[1].weight == 3",
        "endpoint.upstreams.exists(u, u.address.startsWith('10.0.0.'))",
        "endpoint.namespace in ['storage', 'billing']",
        "has(endpoint.labels.team)",
        "!has(endpoint.labels.other)",
    ] {
        assert!(cel(&[expr]).unwrap().select(&e).unwrap(), "{expr}");
    }
    assert!(!cel(&["endpoint.port == 80"]).unwrap().select(&e).unwrap());
}

#[test]
fn cel_selects_when_any_expression_is_true() {
    let s = cel(&[
        "endpoint.namespace == 'billing'",
        "endpoint.labels.team == 'storage'",
    ])
    .unwrap();
    assert!(
        s.select(&endpoint(
            "http://rgw.storage",
            "default",
            &[("team", "storage")]
        ))
        .unwrap()
    );
    assert!(
        s.select(&endpoint("http://db.billing", "default", &[]))
            .unwrap()
    );
    assert!(
        !s.select(&endpoint(
            "http://wiki.docs",
            "default",
            &[("team", "docs")]
        ))
        .unwrap()
    );
}

#[test]
fn cel_missing_label_is_false_not_an_error() {
    let s = cel(&["endpoint.labels.team == 'storage'"]).unwrap();
    assert!(!s.select(&endpoint("http://a.b", "default", &[])).unwrap());
}

#[test]
fn cel_errors_name_the_expression() {
    let bad = cel(&["true", "endpoint.labels.team =="])
        .err()
        .expect("malformed CEL is refused at configure");
    let text = bad.to_string();
    assert!(matches!(bad, PluginError::Config { .. }), "{text}");
    assert!(
        text.contains("endpointSelectors[1] `endpoint.labels.team ==` is not valid CEL"),
        "{text}"
    );
    let s = cel(&["endpoint.port"]).unwrap();
    let e = s
        .select(&endpoint("http://a.b", "default", &[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("endpointSelectors[0] `endpoint.port` returned Int, not a bool"),
        "{e}"
    );
    let s = cel(&["endpoint.port / 0 == 1"]).unwrap();
    assert!(s.select(&endpoint("http://a.b", "default", &[])).is_err());
}

fn naming() -> Arc<NamingPlugin> {
    runtime()
        .load::<NamingWorld>(&PluginRef::builtin("naming-default"), Path::new("."))
        .unwrap()
}

fn ctx() -> NamingContext {
    NamingContext {
        operator_namespace: "bindery-system".into(),
        cluster_domain: "cluster.local".into(),
    }
}

#[test]
fn default_naming_targets_the_url_and_hashes_the_upstream() {
    let n = naming();
    let a = n
        .names(&endpoint("http://rgw.storage:7480", "default", &[]), &ctx())
        .unwrap();
    assert_eq!(
        (a.target_name.as_str(), a.target_namespace.as_str()),
        ("rgw", "storage")
    );
    assert!(
        a.upstream_name.starts_with("bnd-rgw-storage-"),
        "{}",
        a.upstream_name
    );
    // Deterministic; one upstream for every port of a host.
    let again = n
        .names(&endpoint("tcp://rgw.storage:9000", "default", &[]), &ctx())
        .unwrap();
    assert_eq!(a.upstream_name, again.upstream_name);
    // Another account or another host never shares it.
    let other_account = n
        .names(&endpoint("http://rgw.storage:7480", "acme", &[]), &ctx())
        .unwrap();
    assert_ne!(a.upstream_name, other_account.upstream_name);
    let other_host = n
        .names(
            &endpoint("http://rgw2.storage:7480", "default", &[]),
            &ctx(),
        )
        .unwrap();
    assert_ne!(a.upstream_name, other_host.upstream_name);
}

#[test]
fn default_naming_fits_63_characters_and_the_label_rule() {
    let n = naming();
    let long = format!("http://{}.{}", "n".repeat(63), "s".repeat(63));
    let mut seen = std::collections::HashSet::new();
    for url in [
        long.as_str(),
        "http://a.b",
        "http://a.1",
        "http://a-b-c.d-e-f",
    ] {
        let names = n.names(&endpoint(url, "default", &[]), &ctx()).unwrap();
        assert!(names.upstream_name.len() <= 63, "{}", names.upstream_name);
        assert!(
            bindery::model::is_rfc1035_label(&names.upstream_name),
            "{}",
            names.upstream_name
        );
        assert!(seen.insert(names.upstream_name));
    }
    // Hosts that share a long prefix still differ.
    let a = n
        .names(
            &endpoint(&format!("http://{}a.ns", "x".repeat(60)), "default", &[]),
            &ctx(),
        )
        .unwrap();
    let b = n
        .names(
            &endpoint(&format!("http://{}b.ns", "x".repeat(60)), "default", &[]),
            &ctx(),
        )
        .unwrap();
    assert_ne!(a.upstream_name, b.upstream_name);
}

#[test]
fn default_naming_rejects_a_bad_prefix() {
    let mut r = PluginRef::builtin("naming-default");
    r.config = json!({"prefix": "Bad"});
    let e = runtime()
        .load::<NamingWorld>(&r, Path::new("."))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("prefix \"Bad\" must be"), "{e}");
}

fn cands(spec: &[(u32, bool, u32)]) -> Pool {
    pool("http://rgw.storage:7480", spec)
}

fn first(r: &RouterPlugin, ip: &str, pool: &Pool) -> u32 {
    first_with(r, pool.input(ip, None), pool)
}

fn first_with(r: &RouterPlugin, input: bindery::plugin::RouteInput, pool: &Pool) -> u32 {
    let (routed, _) = r.route(input, &pool.candidates);
    assert!(routed.fallback.is_none(), "{:?}", routed.fallback);
    match routed.decision {
        Decision::Try(order) => {
            assert_eq!(
                order.len(),
                pool.candidates.len(),
                "every candidate is offered"
            );
            order[0]
        }
        Decision::Reject(r) => panic!("rejected: {r}"),
    }
}

#[test]
fn round_robin_spreads_evenly_and_skips_the_unhealthy() {
    let r = builtin_router("round-robin", json!({}));
    let c = cands(&[(1, true, 0), (1, false, 0), (1, true, 0), (1, true, 0)]);
    let mut hits = HashMap::new();
    for _ in 0..300 {
        *hits.entry(first(&r, "1.1.1.1", &c)).or_insert(0) += 1;
    }
    assert_eq!(hits.get(&1), None, "unhealthy candidate never first");
    for i in [0, 2, 3] {
        let n = hits[&i];
        assert!((90..=110).contains(&n), "candidate {i}: {n} of 300");
    }
}

#[test]
fn least_connections_prefers_the_least_loaded_per_weight() {
    let r = builtin_router("least-connections", json!({}));
    assert_eq!(
        first(
            &r,
            "1.1.1.1",
            &cands(&[(1, true, 5), (1, true, 2), (1, true, 9)])
        ),
        1
    );
    // Weight 4 with 8 active (2 per unit) beats weight 1 with 3 active.
    assert_eq!(
        first(&r, "1.1.1.1", &cands(&[(1, true, 3), (4, true, 8)])),
        1
    );
    // Unhealthy with zero load still loses.
    assert_eq!(
        first(&r, "1.1.1.1", &cands(&[(1, false, 0), (1, true, 50)])),
        1
    );
}

#[test]
fn weighted_follows_the_weights() {
    let r = builtin_router("weighted", json!({}));
    let c = cands(&[(1, true, 0), (3, true, 0), (6, true, 0)]);
    let mut hits = [0u32; 3];
    for _ in 0..1000 {
        hits[first(&r, "1.1.1.1", &c) as usize] += 1;
    }
    assert_eq!(
        hits,
        [100, 300, 600],
        "smooth weighted round-robin is exact over whole cycles"
    );
}

#[test]
fn consistent_hash_is_sticky_and_moves_few_keys() {
    let r = builtin_router("consistent-hash", json!({}));
    let four = cands(&[(1, true, 0), (1, true, 0), (1, true, 0), (1, true, 0)]);
    let ips: Vec<String> = (0..400)
        .map(|i| format!("192.168.{}.{}", i / 200, i % 200))
        .collect();
    let before: Vec<u32> = ips.iter().map(|ip| first(&r, ip, &four)).collect();
    let again: Vec<u32> = ips.iter().map(|ip| first(&r, ip, &four)).collect();
    assert_eq!(before, again, "same client, same upstream");
    let mut per = [0; 4];
    before.iter().for_each(|&i| per[i as usize] += 1);
    assert!(per.iter().all(|&n| n > 60), "spread over members: {per:?}");
    // Member 2 goes unhealthy: only its clients move.
    let mut three = four.clone();
    three.candidates[2].healthy = false;
    for (ip, &b) in ips.iter().zip(&before) {
        let now = first(&r, ip, &three);
        if b != 2 {
            assert_eq!(now, b, "{ip} moved although its member is healthy");
        } else {
            assert_ne!(now, 2);
        }
    }
}

#[test]
fn consistent_hash_can_hash_a_header() {
    let r = builtin_router("consistent-hash", json!({"header": "X-User"}));
    let c = cands(&[
        (1, true, 0),
        (1, true, 0),
        (1, true, 0),
        (1, true, 0),
        (1, true, 0),
    ]);
    let with_user = |ip: &str, user: &str| {
        let request = http::Request::get("/")
            .header("X-User", user)
            .body(())
            .unwrap();
        c.input(ip, Some(Box::new(request.into_parts().0)))
    };
    // The same user from many IPs lands on one member.
    let picks: std::collections::HashSet<u32> = (0..50)
        .map(|i| first_with(&r, with_user(&format!("10.1.0.{i}"), "alice"), &c))
        .collect();
    assert_eq!(picks.len(), 1);
}
