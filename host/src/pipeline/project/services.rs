//! Proxy mode: the upstream ClusterIP Service (operator namespace, selects
//! the forwarder pods, one port per URL of the target's host) and the target
//! ExternalName Service (the URL's namespace). Direct projections are
//! [`super::slices`]'.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::{EndpointUrl, Scheme};
use crate::pipeline::types::Projection;
use crate::policy::Policy;

pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "bindery";
pub const LABEL_ACCOUNT: &str = "bindery.dev/account";
/// On both Services: the upstream Service's name, to find a projection's
/// objects (owner references cannot cross namespaces).
pub const LABEL_UPSTREAM: &str = "bindery.dev/upstream";
/// Comma-separated URLs a Service projects.
pub const ANNOTATION_URLS: &str = "bindery.dev/urls";
/// Labels of the forwarder pods the upstream Service selects.
pub const POD_NAME_LABEL: &str = "app.kubernetes.io/name";

/// `<scheme>-<urlport>`: the name of a URL's port on both Services, by which
/// every replica reads the allocated forwarder port back.
pub fn port_name(url: &EndpointUrl) -> String {
    format!("{}-{}", url.scheme, url.port)
}

/// The Services of every proxy projection, upstream then target, sorted by
/// name.
pub fn services(
    projections: &[Projection],
    policy: &Policy,
    operator_namespace: &str,
) -> Vec<Service> {
    let mut by_upstream: BTreeMap<&str, Vec<(&Projection, u16)>> = BTreeMap::new();
    for p in projections {
        if let Some(port) = p.port() {
            by_upstream
                .entry(&p.names.upstream)
                .or_default()
                .push((p, port));
        }
    }
    let mut out = Vec::new();
    for (upstream, mut group) in by_upstream {
        group.sort_by_key(|(p, _)| p.key.url.port);
        let account = &group[0].0.key.account;
        let names = &group[0].0.names;
        let labels = BTreeMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_ACCOUNT.to_string(), account.clone()),
            (LABEL_UPSTREAM.to_string(), upstream.to_string()),
        ]);
        let urls = group
            .iter()
            .map(|(p, _)| p.key.url.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let annotations = BTreeMap::from([(ANNOTATION_URLS.to_string(), urls)]);
        let ports = |target: bool| -> Vec<ServicePort> {
            group
                .iter()
                .map(|&(p, forwarder)| ServicePort {
                    name: Some(port_name(&p.key.url)),
                    port: i32::from(p.key.url.port),
                    target_port: (!target).then(|| IntOrString::Int(i32::from(forwarder))),
                    protocol: Some("TCP".to_string()),
                    app_protocol: (p.key.url.scheme == Scheme::Http).then(|| "http".to_string()),
                    ..Default::default()
                })
                .collect()
        };
        let selector = BTreeMap::from([
            (POD_NAME_LABEL.to_string(), MANAGED_BY.to_string()),
            (LABEL_ACCOUNT.to_string(), account.clone()),
        ]);
        out.push(Service {
            metadata: ObjectMeta {
                name: Some(upstream.to_string()),
                namespace: Some(operator_namespace.to_string()),
                labels: Some(labels.clone()),
                annotations: Some(annotations.clone()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_string()),
                selector: Some(selector),
                ports: Some(ports(false)),
                ..Default::default()
            }),
            status: None,
        });
        out.push(Service {
            metadata: ObjectMeta {
                name: Some(names.target_name.clone()),
                namespace: Some(names.target_namespace.clone()),
                labels: Some(labels),
                annotations: Some(annotations),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                type_: Some("ExternalName".to_string()),
                external_name: Some(policy.service_fqdn(upstream, operator_namespace)),
                ports: Some(ports(true)),
                ..Default::default()
            }),
            status: None,
        });
    }
    out
}
