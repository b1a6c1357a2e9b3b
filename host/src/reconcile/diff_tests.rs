use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::differs;
use crate::reconcile::owned::{Owner, selector};

fn svc(type_: &str, target_port: Option<i32>, labels: &[(&str, &str)]) -> Service {
    let mut s = Service::default();
    s.metadata.name = Some("web".into());
    s.metadata.namespace = Some("apps".into());
    s.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    s.spec = Some(ServiceSpec {
        type_: Some(type_.into()),
        external_name: (type_ == "ExternalName").then(|| "u.ops.svc.cluster.local".into()),
        ports: Some(vec![ServicePort {
            name: Some("tcp-80".into()),
            port: 80,
            target_port: target_port.map(IntOrString::Int),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        ..Default::default()
    });
    s
}

const OURS: &[(&str, &str)] = &[
    ("app.kubernetes.io/managed-by", "bindery"),
    ("bindery.dev/account", "a"),
];

#[test]
fn what_the_apiserver_and_others_add_is_no_difference() {
    let desired = svc("ExternalName", None, OURS);
    let mut live = svc("ExternalName", Some(80), OURS);
    let labels = live.metadata.labels.get_or_insert_default();
    labels.insert("team".into(), "x".into());
    let spec = live.spec.get_or_insert_default();
    spec.session_affinity = Some("None".into());
    live.metadata.resource_version = Some("42".into());
    assert!(!differs(&live, &desired));
    let desired = svc("ClusterIP", Some(20001), OURS);
    let mut live = desired.clone();
    live.spec.get_or_insert_default().cluster_ip = Some("10.96.0.9".into());
    assert!(!differs(&live, &desired));
}

#[test]
fn a_field_bindery_sets_that_changed_is_a_difference() {
    let desired = svc("ClusterIP", Some(20001), OURS);
    assert!(differs(&svc("ClusterIP", Some(20002), OURS), &desired));
    assert!(differs(
        &svc("ClusterIP", Some(20001), &OURS[..1]),
        &desired
    ));
    assert!(differs(&svc("ExternalName", Some(20001), OURS), &desired));
    let mut more = desired.clone();
    let ports = more
        .spec
        .get_or_insert_default()
        .ports
        .get_or_insert_default();
    ports.push(ServicePort {
        name: Some("tcp-81".into()),
        port: 81,
        ..Default::default()
    });
    assert!(differs(&more, &desired), "a port no longer wanted");
    let mut moved = svc("ExternalName", None, OURS);
    moved.spec.get_or_insert_default().external_name = Some("elsewhere".into());
    assert!(differs(&moved, &svc("ExternalName", None, OURS)));
}

#[test]
fn ownership_is_the_labels_alone() {
    assert_eq!(Owner::of(&svc("ClusterIP", None, OURS), "a"), Owner::Us);
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, OURS), "b"),
        Owner::OtherAccount("a".into())
    );
    assert_eq!(Owner::of(&svc("ClusterIP", None, &[]), "a"), Owner::Foreign);
    let only_account = [("bindery.dev/account", "a")];
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, &only_account), "a"),
        Owner::Foreign
    );
    let no_account = [("app.kubernetes.io/managed-by", "bindery")];
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, &no_account), "a"),
        Owner::Foreign
    );
    assert_eq!(
        selector("a"),
        "app.kubernetes.io/managed-by=bindery,bindery.dev/account=a"
    );
}
