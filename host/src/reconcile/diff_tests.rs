use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::differs;
use crate::reconcile::owned::{Owner, selector, slice_selector};

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
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, OURS).metadata, "a"),
        Owner::Us
    );
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, OURS).metadata, "b"),
        Owner::OtherAccount("a".into())
    );
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, &[]).metadata, "a"),
        Owner::Foreign
    );
    let only_account = [("bindery.dev/account", "a")];
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, &only_account).metadata, "a"),
        Owner::Foreign
    );
    let no_account = [("app.kubernetes.io/managed-by", "bindery")];
    assert_eq!(
        Owner::of(&svc("ClusterIP", None, &no_account).metadata, "a"),
        Owner::Foreign
    );
    assert_eq!(
        selector("a"),
        "app.kubernetes.io/managed-by=bindery,bindery.dev/account=a"
    );
}

/// The EndpointSlice controller copies a Service's labels onto its slices:
/// those of proxy mode's upstream Services look like this account's, and
/// are not.
#[test]
fn a_slice_another_controller_manages_is_not_ours() {
    let copied = [
        ("app.kubernetes.io/managed-by", "bindery"),
        ("bindery.dev/account", "a"),
        (
            "endpointslice.kubernetes.io/managed-by",
            "endpointslice-controller.k8s.io",
        ),
    ];
    let mut meta = svc("ClusterIP", None, &copied).metadata;
    assert_eq!(Owner::of(&meta, "a"), Owner::Foreign);
    if let Some(l) = meta.labels.as_mut() {
        l.insert(
            "endpointslice.kubernetes.io/managed-by".into(),
            "bindery.dev".into(),
        );
    }
    assert_eq!(Owner::of(&meta, "a"), Owner::Us);
    assert_eq!(
        slice_selector("a"),
        "app.kubernetes.io/managed-by=bindery,bindery.dev/account=a,endpointslice.kubernetes.io/managed-by=bindery.dev"
    );
}

fn slice(ready: &[bool]) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    use k8s_openapi::api::discovery::v1::{
        Endpoint, EndpointConditions, EndpointPort, EndpointSlice,
    };
    let mut s = EndpointSlice {
        address_type: "IPv4".into(),
        endpoints: ready
            .iter()
            .enumerate()
            .map(|(i, &r)| Endpoint {
                addresses: vec![format!("10.0.0.{}", i + 1)],
                conditions: Some(EndpointConditions {
                    ready: Some(r),
                    serving: Some(r),
                    terminating: Some(false),
                }),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("tcp-80".into()),
            port: Some(80),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }]),
        ..Default::default()
    };
    s.metadata.labels = Some(
        OURS.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    s
}

#[test]
fn a_slice_is_written_again_only_when_an_endpoint_or_its_readiness_changed() {
    use super::slice_differs;
    let desired = slice(&[true, true]);
    let mut live = slice(&[true, true]);
    live.metadata.resource_version = Some("7".into());
    live.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("someone".into(), "else".into());
    live.endpoints[0].node_name = None;
    assert!(!slice_differs(&live, &desired));
    assert!(slice_differs(&slice(&[true, false]), &desired), "readiness");
    assert!(slice_differs(&slice(&[true]), &desired), "an endpoint less");
    let mut moved = slice(&[true, true]);
    moved.ports.as_mut().unwrap()[0].port = Some(81);
    assert!(slice_differs(&moved, &desired), "the port");
    let mut foreign = slice(&[true, true]);
    foreign.metadata.labels = None;
    assert!(
        slice_differs(&foreign, &desired),
        "Bindery's labels missing"
    );
}
