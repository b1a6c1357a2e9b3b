use std::net::{IpAddr, SocketAddr};

use super::{MAX_PER_SLICE, direct, readiness};
use crate::catalog::{Mode, parse_str};
use crate::pipeline::pool::pool;
use crate::pipeline::project::project;
use crate::pipeline::types::{Allocation, Named, Names, Projection, Reach};
use crate::pipeline::validate::validate;
use crate::policy::PortRange;

/// The projections of a catalog in direct mode, each target named after
/// its URL's host.
fn projections(yaml: &str) -> Vec<Projection> {
    let (valid, rejected) = validate(parse_str(yaml, "t").expect("parses"), Mode::Direct);
    assert!(rejected.is_empty(), "{rejected:?}");
    let (pools, _) = pool(valid);
    let named = pools
        .into_iter()
        .map(|pool| Named {
            names: Names {
                upstream: format!("up-{}", pool.key.url.name),
                target_name: pool.key.url.name.clone(),
                target_namespace: pool.key.url.namespace.clone(),
            },
            pool,
        })
        .collect();
    let (projections, rejected) = project(named, PortRange::default(), &Allocation::new());
    assert!(rejected.is_empty(), "{rejected:?}");
    projections
}

fn endpoints(slice: &k8s_openapi::api::discovery::v1::EndpointSlice) -> Vec<(String, bool)> {
    slice
        .endpoints
        .iter()
        .map(|e| {
            let c = e.conditions.as_ref().expect("conditions");
            assert_eq!(c.ready, c.serving, "serving follows ready");
            assert_eq!(c.terminating, Some(false));
            (e.addresses.join(","), c.ready.expect("ready set"))
        })
        .collect()
}

#[test]
fn a_selectorless_service_and_slices_apart_by_family_and_port() {
    let ps = projections(
        r#"
endpoints:
  - url: http://rgw.storage:7480
    account: acme
    upstreams:
      - {address: "10.0.0.12:7480"}
      - {address: "10.0.0.11:7480"}
      - {address: "[fd00::1]:7480"}
      - {address: "10.0.0.13:8080"}
  - url: http://rgw.storage:7480
    account: acme
    upstreams: [{address: "10.0.0.11:7480"}]
  - url: tcp://rgw.storage:9000
    account: acme
    upstreams: [{address: "10.0.1.1:9000"}]
"#,
    );
    let (objects, listings) = direct(&ps, &Reach::default());
    assert_eq!(objects.len(), 1, "one Service for both URLs of rgw.storage");
    let svc = &objects[0].service;
    assert_eq!(svc.metadata.name.as_deref(), Some("rgw"));
    assert_eq!(svc.metadata.namespace.as_deref(), Some("storage"));
    let labels = svc.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "bindery");
    assert_eq!(labels["bindery.dev/account"], "acme");
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert!(spec.selector.is_none(), "kube-proxy takes the slices");
    let ports: Vec<(String, i32, Option<String>)> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap(), p.port, p.app_protocol.clone()))
        .collect();
    assert_eq!(
        ports,
        [
            ("http-7480".to_string(), 7480, Some("http".to_string())),
            ("tcp-9000".to_string(), 9000, None)
        ]
    );

    let names: Vec<&str> = objects[0]
        .slices
        .iter()
        .map(|s| s.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rgw-7480-v4-7480-0",
            "rgw-7480-v4-8080-0",
            "rgw-7480-v6-7480-0",
            "rgw-9000-v4-9000-0"
        ]
    );
    let first = &objects[0].slices[0];
    assert_eq!(first.address_type, "IPv4");
    assert_eq!(
        endpoints(first),
        [("10.0.0.11".into(), true), ("10.0.0.12".into(), true)],
        "sorted, and the pool's duplicate listed once"
    );
    let labels = first.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["kubernetes.io/service-name"], "rgw");
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "bindery.dev"
    );
    assert_ne!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["app.kubernetes.io/managed-by"], "bindery");
    assert_eq!(labels["bindery.dev/account"], "acme");
    let port = &first.ports.as_ref().unwrap()[0];
    assert_eq!(
        (
            port.name.as_deref(),
            port.port,
            port.app_protocol.as_deref()
        ),
        (Some("http-7480"), Some(7480), Some("http"))
    );
    assert_eq!(objects[0].slices[2].address_type, "IPv6");
    assert_eq!(endpoints(&objects[0].slices[2]), [("fd00::1".into(), true)]);
    let listing = &listings["acme/http://rgw.storage:7480"];
    assert_eq!((listing.listed, listing.ready), (4, 4));
    assert!(listing.problems.is_empty());
}

#[test]
fn at_most_a_hundred_endpoints_a_slice() {
    let upstreams: Vec<String> = (0..250)
        .map(|i| format!("{{address: \"10.1.{}.{}:80\"}}", i / 200, i % 200 + 1))
        .collect();
    let ps = projections(&format!(
        "endpoints:\n  - url: tcp://big.ns:80\n    upstreams: [{}]\n",
        upstreams.join(", ")
    ));
    let (objects, listings) = direct(&ps, &Reach::default());
    let sizes: Vec<usize> = objects[0]
        .slices
        .iter()
        .map(|s| s.endpoints.len())
        .collect();
    assert_eq!(sizes, [MAX_PER_SLICE, MAX_PER_SLICE, 50]);
    assert_eq!(listings["default/tcp://big.ns:80"].listed, 250);
}

#[test]
fn names_are_listed_as_they_resolve_and_health_decides_readiness() {
    let ps = projections(
        r#"
endpoints:
  - url: tcp://db.prod:5432
    upstreams:
      - {address: "10.0.0.1:5432"}
      - {address: "db-a.example:5432"}
      - {address: "db-b.example:5432"}
      - {address: "db-c.example:5432"}
      - {address: "db-d.example:5432"}
"#,
    );
    let url = "tcp://db.prod:5432".to_string();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let mut reach = Reach::default();
    reach.resolved.insert(
        (url.clone(), "db-a.example:5432".into()),
        Ok(vec![ip("10.0.0.2"), ip("::ffff:10.0.0.3")]),
    );
    reach.resolved.insert(
        (url.clone(), "db-b.example:5432".into()),
        Err("no such host".into()),
    );
    reach.resolved.insert(
        (url.clone(), "db-c.example:5432".into()),
        Ok(vec![ip("127.0.0.1")]),
    );
    let sock = |s: &str| s.parse::<SocketAddr>().unwrap();
    reach
        .ready
        .insert((url.clone(), sock("10.0.0.1:5432")), false);
    reach
        .ready
        .insert((url.clone(), sock("10.0.0.3:5432")), true);

    let (objects, listings) = direct(&ps, &reach);
    assert_eq!(
        endpoints(&objects[0].slices[0]),
        [
            ("10.0.0.1".into(), false),
            ("10.0.0.2".into(), true),
            ("10.0.0.3".into(), true)
        ]
    );
    let listing = &listings["default/tcp://db.prod:5432"];
    assert_eq!((listing.listed, listing.ready), (3, 2));
    let problems = listing.problems.join("\n");
    assert_eq!(listing.problems.len(), 3, "{problems}");
    for needle in [
        "db-b.example:5432 (t endpoints[0]) does not resolve: no such host",
        "db-c.example:5432 (t endpoints[0]) resolves to 127.0.0.1, which is left out: a loopback",
        "db-d.example:5432 (t endpoints[0]) is not resolved yet",
    ] {
        assert!(problems.contains(needle), "{needle:?} not in\n{problems}");
    }
}

#[test]
fn proxy_projections_make_no_direct_objects() {
    let (valid, _) = validate(
        parse_str(
            "endpoints:\n  - url: tcp://db.prod:5432\n    upstreams: [{address: \"10.0.0.1:5432\"}]\n",
            "t",
        )
        .unwrap(),
        Mode::Proxy,
    );
    let (pools, _) = pool(valid);
    let named = pools
        .into_iter()
        .map(|pool| Named {
            names: Names {
                upstream: "u".into(),
                target_name: "db".into(),
                target_namespace: "prod".into(),
            },
            pool,
        })
        .collect();
    let (ps, _) = project(named, PortRange::default(), &Allocation::new());
    let (objects, listings) = direct(&ps, &Reach::default());
    assert!(objects.is_empty() && listings.is_empty());
}

#[test]
fn the_readiness_a_slice_lists_is_read_back() {
    let ps = projections(
        "endpoints:\n  - url: tcp://db.prod:5432\n    upstreams: [{address: \"10.0.0.1:5432\"}, {address: \"[fd00::2]:5433\"}]\n",
    );
    let url = "tcp://db.prod:5432".to_string();
    let mut reach = Reach::default();
    let down: SocketAddr = "[fd00::2]:5433".parse().unwrap();
    reach.ready.insert((url.clone(), down), false);
    let (objects, _) = direct(&ps, &reach);
    let read = readiness(&objects[0].slices);
    assert_eq!(read.len(), 2);
    assert!(read[&(url.clone(), "10.0.0.1:5432".parse().unwrap())]);
    assert!(!read[&(url, down)]);
}
