use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::read;

/// An upstream Service with `(scheme, url port, forwarder port)` per URL of
/// `host`.
fn upstream(name: &str, ns: &str, host: &str, ports: &[(&str, u16, u16)]) -> Service {
    let mut s = Service::default();
    s.metadata.name = Some(name.into());
    s.metadata.namespace = Some(ns.into());
    let urls: Vec<String> = ports
        .iter()
        .map(|(scheme, p, _)| format!("{scheme}://{host}:{p}"))
        .collect();
    s.metadata.annotations = Some(BTreeMap::from([(
        "bindery.dev/urls".to_string(),
        urls.join(","),
    )]));
    s.spec = Some(ServiceSpec {
        type_: Some("ClusterIP".into()),
        ports: Some(
            ports
                .iter()
                .map(|(scheme, p, target)| ServicePort {
                    name: Some(format!("{scheme}-{p}")),
                    port: i32::from(*p),
                    target_port: Some(IntOrString::Int(i32::from(*target))),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    });
    s
}

#[test]
fn ports_are_read_back_by_port_name_and_url() {
    let services = [
        upstream(
            "u1",
            "ops",
            "web.apps",
            &[("http", 80, 20001), ("tcp", 5432, 20002)],
        ),
        upstream("u2", "ops", "db.data", &[("tcp", 5432, 20003)]),
        // Elsewhere than the operator namespace: not an upstream.
        upstream("u3", "apps", "x.apps", &[("tcp", 1, 20004)]),
    ];
    let got = read(&services.map(Arc::new), "acct", "ops");
    let want = BTreeMap::from([
        ("acct/http://web.apps:80".to_string(), 20001),
        ("acct/tcp://web.apps:5432".to_string(), 20002),
        ("acct/tcp://db.data:5432".to_string(), 20003),
    ]);
    assert_eq!(got, want);
}

#[test]
fn a_port_claimed_twice_stays_with_one_url() {
    let services = [
        upstream("b", "ops", "two.apps", &[("tcp", 1, 20001)]),
        upstream("a", "ops", "one.apps", &[("tcp", 1, 20001)]),
    ];
    let got = read(&services.map(Arc::new), "acct", "ops");
    assert_eq!(
        got,
        BTreeMap::from([("acct/tcp://one.apps:1".to_string(), 20001)])
    );
}

#[test]
fn ports_without_a_matching_url_or_number_are_skipped() {
    let mut s = upstream(
        "u",
        "ops",
        "web.apps",
        &[("tcp", 80, 20001), ("tcp", 81, 20002)],
    );
    let ports = s
        .spec
        .as_mut()
        .and_then(|s| s.ports.as_mut())
        .expect("ports");
    ports[0].name = Some("http-80".into());
    ports[1].target_port = Some(IntOrString::String("fwd".into()));
    assert!(read(&[Arc::new(s)], "acct", "ops").is_empty());
}
