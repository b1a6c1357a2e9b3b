//! The `bindery` binary as a user runs it: `plan`, `check-url`, `crd`.
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use support::{bindery, dir_with, repo_root};

fn run(args: &[&str], dir: &Path) -> Output {
    bindery()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running bindery")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The YAML stream on stdout, each document a Kubernetes Service.
fn services(out: &Output) -> Vec<Service> {
    support::services(&out.stdout)
}

/// A directory with `catalog.yaml` and, when given, `policy.yaml`.
fn files(catalog: &str, policy: Option<&str>) -> tempfile::TempDir {
    match policy {
        Some(policy) => dir_with(&[
            ("catalog.yaml", catalog.as_bytes()),
            ("policy.yaml", policy.as_bytes()),
        ]),
        None => dir_with(&[("catalog.yaml", catalog.as_bytes())]),
    }
}

/// `bindery plan` of `dir`'s `catalog.yaml`, under its `policy.yaml` when
/// it has one, with `args`.
fn plan(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["plan", "--catalog", "catalog.yaml"];
    if dir.join("policy.yaml").exists() {
        all.extend(["--policy", "policy.yaml"]);
    }
    all.extend(args);
    run(&all, dir)
}

/// [`plan`], which must succeed: the Services, and stderr (what it left).
fn planned(dir: &Path, args: &[&str]) -> (Vec<Service>, String) {
    let out = plan(dir, args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    (services(&out), stderr)
}

fn by_name(services: &[Service]) -> BTreeMap<(String, String), Service> {
    services
        .iter()
        .map(|s| {
            let m = &s.metadata;
            (
                (
                    m.namespace.clone().unwrap_or_default(),
                    m.name.clone().unwrap_or_default(),
                ),
                s.clone(),
            )
        })
        .collect()
}

fn label<'a>(s: &'a Service, key: &str) -> Option<&'a str> {
    s.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

#[test]
fn quickstart_plans_valid_services_and_says_why_the_rest_is_left() {
    let dir = repo_root().join("examples/quickstart");
    let (all, stderr) = planned(&dir, &[]);
    assert_eq!(
        all.len(),
        4,
        "two URLs, an upstream and a target Service each"
    );
    let named = by_name(&all);

    let rgw = &named[&("storage".to_string(), "rgw".to_string())];
    let spec = rgw.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ExternalName"));
    let external = spec.external_name.as_deref().unwrap();
    let upstream_name = external
        .strip_suffix(".bindery-system.svc.cluster.local")
        .expect(external);
    assert_eq!(label(rgw, "app.kubernetes.io/managed-by"), Some("bindery"));
    assert_eq!(label(rgw, "bindery.dev/account"), Some("default"));

    let upstream = &named[&("bindery-system".to_string(), upstream_name.to_string())];
    let spec = upstream.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let port = &spec.ports.as_ref().unwrap()[0];
    assert_eq!((port.port, port.name.as_deref()), (7480, Some("http-7480")));
    match port.target_port {
        Some(IntOrString::Int(p)) => assert!((20000..=29999).contains(&p), "{p}"),
        ref other => panic!("targetPort {other:?}"),
    }
    let selector = spec.selector.as_ref().unwrap();
    assert_eq!(
        selector.get("app.kubernetes.io/name").map(String::as_str),
        Some("bindery")
    );
    assert_eq!(label(upstream, "bindery.dev/account"), Some("default"));

    assert!(named.contains_key(&("billing".to_string(), "orders-db".to_string())));
    assert!(
        stderr.contains("endpoints[3] (http://wiki.docs): NotSelected"),
        "{stderr}"
    );
    assert!(
        stderr.contains("endpoints[4] (http://rgw.storage:7480): OtherAccount"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("endpoints[5] (https://secure.storage): Invalid: url: invalid scheme https"),
        "{stderr}"
    );

    let strict = plan(&dir, &["--strict"]);
    assert_eq!(
        strict.status.code(),
        Some(2),
        "an invalid entry fails --strict"
    );
}

#[test]
fn plan_is_deterministic() {
    let dir = repo_root().join("examples/quickstart");
    assert_eq!(plan(&dir, &[]).stdout, plan(&dir, &[]).stdout);
}

const POOLED: &str = r#"
endpoints:
  - url: http://api.shop
    labels: {tier: a}
    upstreams: [{address: 10.0.0.1:80}, {address: 10.0.0.2:80}]
  - url: http://api.shop:80
    labels: {tier: b}
    upstreams: [{address: 10.0.0.3:80}]
  - url: tcp://db.shop:5432
    pooling: false
    upstreams: [{address: 10.0.1.1:5432}]
  - url: tcp://db.shop:5432
    upstreams: [{address: 10.0.1.2:5432}]
  - url: http://api.shop
    account: acme
    upstreams: [{address: 10.9.9.9:80}]
"#;

#[test]
fn one_url_pools_its_entries_and_pooling_false_keeps_it_alone() {
    let dir = files(POOLED, None);
    let (all, stderr) = planned(dir.path(), &[]);
    // api.shop (both entries, one URL) and db.shop: 2 URLs, 4 Services.
    assert_eq!(all.len(), 4, "{stderr}");
    let annotations: Vec<_> = all
        .iter()
        .filter_map(|s| {
            s.metadata
                .annotations
                .as_ref()?
                .get("bindery.dev/urls")
                .cloned()
        })
        .collect();
    assert_eq!(
        annotations
            .iter()
            .filter(|a| *a == "http://api.shop:80")
            .count(),
        2
    );
    assert!(
        stderr.contains("endpoints[3] (tcp://db.shop:5432)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pooling: false"),
        "the reason names the rule: {stderr}"
    );
    assert!(
        stderr.contains("endpoints[4] (http://api.shop): OtherAccount"),
        "{stderr}"
    );
}

#[test]
fn another_account_sees_only_its_own_endpoints() {
    let dir = files(
        POOLED,
        Some("account: acme\nnaming: {plugin: builtin:naming-default, config: {prefix: acme}}\n"),
    );
    let (all, stderr) = planned(dir.path(), &[]);
    assert_eq!(all.len(), 2, "{stderr}");
    for s in &all {
        assert_eq!(label(s, "bindery.dev/account"), Some("acme"));
    }
    let upstream = all
        .iter()
        .find(|s| s.metadata.namespace.as_deref() == Some("bindery-system"))
        .unwrap();
    assert!(
        upstream
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("acme-api-shop-")
    );
    assert_eq!(stderr.matches("OtherAccount").count(), 4, "{stderr}");
}

#[test]
fn selectors_pick_by_label_scheme_and_metadata() {
    let catalog = r#"
endpoints:
  - url: http://a.one
    labels: {team: storage}
    upstreams: [{address: 10.0.0.1:80}]
  - url: tcp://b.one:9000
    labels: {team: storage}
    upstreams: [{address: 10.0.0.2:9000}]
  - url: http://c.two
    metadata: {owner: ceph}
    upstreams: [{address: 10.0.0.3:80}]
  - url: http://d.two
    upstreams: [{address: 10.0.0.4:80}]
"#;
    let policy = r#"
endpointSelectors:
  - "endpoint.labels.team == 'storage' && endpoint.scheme == 'http'"
  - "endpoint.metadata.owner == 'ceph'"
"#;
    let dir = files(catalog, Some(policy));
    let (all, stderr) = planned(dir.path(), &[]);
    let targets: Vec<_> = all
        .into_iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName"))
        .map(|s| s.metadata.name.unwrap())
        .collect();
    assert_eq!(targets, ["a", "c"], "{stderr}");
    assert!(
        stderr.contains("(tcp://b.one:9000): NotSelected"),
        "{stderr}"
    );
    assert!(stderr.contains("(http://d.two): NotSelected"), "{stderr}");
}

#[test]
fn without_a_policy_everything_valid_is_projected() {
    let dir = files(POOLED, None);
    let (all, _) = planned(dir.path(), &["--operator-namespace", "edge"]);
    assert!(
        all.iter()
            .any(|s| s.metadata.namespace.as_deref() == Some("edge"))
    );
    let target = all
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("api"))
        .unwrap();
    let ext = target
        .spec
        .as_ref()
        .unwrap()
        .external_name
        .as_deref()
        .unwrap();
    assert!(ext.ends_with(".edge.svc.cluster.local"), "{ext}");
}

#[test]
fn a_bad_catalog_entry_is_named_and_the_others_still_plan() {
    let catalog = r#"
endpoints:
  - url: http://ok.one
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://bad.one
    upstreams: [{address: "10.0.0.1:99999"}]
  - url: http://typo.one
    upstreamz: [{address: 10.0.0.1:80}]
"#;
    let dir = files(catalog, None);
    let out = plan(dir.path(), &["--strict"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(services(&out).len(), 2, "ok.one is still planned: {stderr}");
    assert!(stderr.contains("endpoints[1] (http://bad.one)"), "{stderr}");
    assert!(stderr.contains("endpoints[2]"), "{stderr}");
    assert!(
        stderr.contains("upstreamz"),
        "the unknown field is named: {stderr}"
    );
}

#[test]
fn a_bad_policy_fails_with_the_file_and_the_field() {
    let dir = files(
        POOLED,
        Some("endpointSelectors: ['endpoint.labels.x ==']\n"),
    );
    let out = plan(dir.path(), &[]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "nothing planned from a broken policy"
    );
    assert!(stderr.contains("endpointSelectors[0]"), "{stderr}");
    assert!(stderr.contains("is not valid CEL"), "{stderr}");
}

#[test]
fn check_url_prints_one_line_per_url_and_exits_by_the_worst() {
    let dir = repo_root();
    let good = run(
        &[
            "check-url",
            "http://rgw.storage:7480",
            "tcp://db.billing:5432",
            "http://a.b",
        ],
        &dir,
    );
    assert!(good.status.success());
    assert_eq!(
        text(&good.stdout),
        "http://rgw.storage:7480: valid\ntcp://db.billing:5432: valid\nhttp://a.b: valid\n"
    );
    let mixed = run(
        &["check-url", "http://a.b", "tcp://a.b", "https://a.b:443"],
        &dir,
    );
    assert_eq!(mixed.status.code(), Some(1));
    let lines: Vec<String> = text(&mixed.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "http://a.b: valid");
    assert!(lines[1].starts_with("tcp://a.b: invalid: "), "{}", lines[1]);
    assert!(
        lines[2].starts_with("https://a.b:443: invalid: "),
        "{}",
        lines[2]
    );
}

#[test]
fn crd_is_a_valid_custom_resource_definition() {
    let out = run(&["crd"], &repo_root());
    assert!(out.status.success());
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(&text(&out.stdout)).expect("CRD YAML");
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("boundendpoints.bindery.dev")
    );
    assert_eq!(crd.spec.group, "bindery.dev");
    assert_eq!(crd.spec.scope, "Namespaced");
    let v = &crd.spec.versions[0];
    assert_eq!(v.name, "v1alpha1");
    assert!(
        v.subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<_> = v
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "URL",
            "Ready",
            "Reason",
            "Mode",
            "Endpoints",
            "Clusters",
            "Age"
        ]
    );
}

/// Direct mode in `bindery plan`: the selector-less Service and its
/// EndpointSlices (IPv4 and IPv6 apart, at most 100 endpoints each, owned
/// by Bindery), a weight said not to act, a loopback address refused.
#[test]
fn plan_prints_a_direct_service_and_its_slices() {
    let mut ups: Vec<String> = (0..150)
        .map(|i| format!("{{address: \"10.0.{}.{}:7480\"}}", i / 100, i % 100 + 1))
        .collect();
    ups.push("{address: \"[fd00::1]:7480\", weight: 3}".to_string());
    let catalog = format!(
        "endpoints:\n  - url: http://rgw.storage:80\n    mode: direct\n    upstreams: [{}]\n  - url: tcp://lo.storage:80\n    mode: direct\n    upstreams: [{{address: \"127.0.0.1:80\"}}]\n",
        ups.join(", ")
    );
    let dir = files(&catalog, None);
    let out = plan(dir.path(), &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("rejected catalog.yaml endpoints[1] (tcp://lo.storage:80): Invalid")
            && stderr.contains("loopback"),
        "{stderr}"
    );
    assert!(stderr.contains("weight 3"), "{stderr}");
    let docs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect();
    let kinds: Vec<&str> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        ["Service", "EndpointSlice", "EndpointSlice", "EndpointSlice"],
        "{stderr}"
    );
    let svc = &docs[0];
    assert_eq!(svc["metadata"]["namespace"], "storage");
    assert_eq!(svc["metadata"]["name"], "rgw");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert!(
        svc["spec"].get("selector").is_none_or(|s| s.is_null()),
        "{svc}"
    );
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    assert_eq!(svc["spec"]["ports"][0]["appProtocol"], "http");
    let mut sizes = Vec::new();
    for s in &docs[1..] {
        let labels = &s["metadata"]["labels"];
        assert_eq!(labels["kubernetes.io/service-name"], "rgw");
        assert_eq!(
            labels["endpointslice.kubernetes.io/managed-by"],
            "bindery.dev"
        );
        assert_eq!(labels["app.kubernetes.io/managed-by"], "bindery");
        assert_eq!(labels["bindery.dev/account"], "default");
        assert_eq!(s["ports"][0]["port"], 7480);
        assert_eq!(s["ports"][0]["name"], svc["spec"]["ports"][0]["name"]);
        let n = s["endpoints"].as_array().expect("endpoints").len();
        sizes.push((s["addressType"].as_str().unwrap_or("").to_string(), n));
    }
    sizes.sort();
    assert_eq!(
        sizes,
        [
            ("IPv4".to_string(), 50),
            ("IPv4".to_string(), 100),
            ("IPv6".to_string(), 1)
        ]
    );
}
