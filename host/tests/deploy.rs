//! `deploy/`: the Helm chart and the kustomize base as a cluster admin uses
//! them, with the helm and kubectl `testenv/setup` builds; the renders are
//! checked by `bindery` itself and applied to the local control plane
//! (`testenv/`), where the operator's RBAC is probed by impersonating its
//! ServiceAccount.
//!
//! `BINDERY_UPDATE_DEPLOY=1` rewrites the CRD copies from `bindery crd`
//! instead of failing on drift.
mod support;

use std::path::Path;
use std::process::{Command, Output};

use k8s_openapi::ByteString;
use serde_json::Value;
use support::tools::{helm, kubectl, run_ok};
use support::{bindery, repo_root};

/// What `helm template` renders for (the chart needs at least 1.30).
const KUBE_VERSION: &str = "1.33.0";

const CHART: &str = "deploy/helm/bindery";
const KUSTOMIZE: &str = "deploy/kustomize";
const CHART_CRD: &str = "deploy/helm/bindery/crds/boundendpoints.bindery.dev.yaml";
const KUSTOMIZE_CRD: &str = "deploy/kustomize/crd.yaml";

/// CEL with commas and both quotes: the list must reach policy.yaml intact.
const SELECTORS: [&str; 3] = [
    "endpoint.labels.team in ['a', 'b']",
    "endpoint.metadata.owner == \"ops, infra\" && endpoint.port == 5432",
    "endpoint.name.startsWith('x') || endpoint.labels.tier in [\"gold\", \"silver\"]",
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `helm template` of the chart as release `name` in `namespace`.
fn helm_template(name: &str, namespace: &str, extra: &[&str]) -> Output {
    helm()
        .args(["template", name, CHART, "--namespace", namespace])
        .args(["--kube-version", KUBE_VERSION])
        .args(extra)
        .output()
        .expect("running helm template")
}

/// The non-empty documents of a YAML stream.
fn documents(stream: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(stream)
        .unwrap_or_else(|e| panic!("parsing a YAML stream: {e}\n{stream}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn kind_and_name(doc: &Value) -> (String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (s(&doc["kind"]), s(&doc["metadata"]["name"]))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| kind_and_name(d) == (kind.to_string(), name.to_string()))
        .unwrap_or_else(|| {
            let have: Vec<_> = docs.iter().map(kind_and_name).collect();
            panic!("no {kind} {name} in the render; it has {have:?}")
        })
}

/// A ConfigMap's files laid out as `--policy DIR` reads them: `data` as
/// text, `binaryData` decoded from base64.
fn write_configmaps(maps: &[&Value], dir: &Path) {
    for map in maps {
        for (name, value) in map["data"].as_object().into_iter().flatten() {
            std::fs::write(dir.join(name), value.as_str().expect("data is text")).unwrap();
        }
        for (name, value) in map["binaryData"].as_object().into_iter().flatten() {
            let bytes = base64_decode(value.as_str().expect("binaryData is base64"));
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// base64 as Kubernetes writes it (`binaryData`), by k8s-openapi's own
/// ByteString.
fn base64_decode(s: &str) -> Vec<u8> {
    serde_json::from_value::<ByteString>(Value::String(s.to_string()))
        .unwrap_or_else(|e| panic!("not base64: {e}"))
        .0
}

fn base64_encode(bytes: &[u8]) -> String {
    match serde_json::to_value(ByteString(bytes.to_vec())) {
        Ok(Value::String(s)) => s,
        other => panic!("ByteString serialized as {other:?}"),
    }
}

/// Values with the comma-laden selectors, a naming config and a router
/// from the plugins ConfigMap, plus the `--set-file` of that router.
struct CustomValues {
    _dir: tempfile::TempDir,
    args: Vec<String>,
    router: Vec<u8>,
}

fn custom_values(account: &str) -> CustomValues {
    let dir = tempfile::tempdir().unwrap();
    let (_, router) =
        bindery::plugin::builtin::get("least-connections").expect("a built-in router");
    std::fs::write(dir.path().join("router.wasm"), router).unwrap();
    let values = serde_json::json!({
        "policy": {
            "account": account,
            "endpointSelectors": SELECTORS,
            "naming": {"plugin": "builtin:naming-default", "config": {}},
            "router": {"plugin": "router.wasm", "config": {}},
            "ports": {"first": 31000, "last": 31999},
            "forwarding": {"connectTimeoutMs": 1500, "drainSeconds": 50},
        },
    });
    // JSON is YAML: a values file, as a user would write one.
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, serde_json::to_string_pretty(&values).unwrap()).unwrap();
    let args = vec![
        "--values".to_string(),
        file.display().to_string(),
        "--set-file".to_string(),
        format!(
            "plugins.files.router\\.wasm={}",
            dir.path().join("router.wasm").display()
        ),
    ];
    CustomValues {
        _dir: dir,
        args,
        router: router.to_vec(),
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A catalog (of account ACCOUNT) where teams a and b are selected by the first expression, c by
/// none, and a database by the second.
const CATALOG: &str = r#"
endpoints:
  - url: http://svc-a.apps:8080
    account: ACCOUNT
    labels: {team: a}
    upstreams: [{address: "10.0.0.1:8080"}]
  - url: http://svc-b.apps:8080
    account: ACCOUNT
    labels: {team: b}
    upstreams: [{address: "10.0.0.2:8080"}]
  - url: http://svc-c.apps:8080
    account: ACCOUNT
    labels: {team: c}
    upstreams: [{address: "10.0.0.3:8080"}]
  - url: tcp://db.data:5432
    account: ACCOUNT
    metadata: {owner: "ops, infra"}
    upstreams: [{address: "10.0.0.4:5432"}]
"#;

/// `bindery plan --strict` over CATALOG for `account` with the policy directory `dir`:
/// the names of the Services it would apply.
fn plan_service_names(dir: &Path, account: &str, namespace: &str) -> Vec<String> {
    let catalog = dir.join("catalog.yaml");
    std::fs::write(&catalog, CATALOG.replace("ACCOUNT", account)).unwrap();
    let out = run_ok(
        bindery()
            .args(["plan", "--strict", "--catalog"])
            .arg(&catalog)
            .arg("--policy")
            .arg(dir)
            .args(["--operator-namespace", namespace]),
    );
    let mut names: Vec<String> = documents(&out)
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["metadata"]["namespace"].as_str().unwrap_or_default(),
                s["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    names
}

/// Check the policy and plugins of a render (or of the live objects) the
/// way the operator will read them.
fn assert_custom_policy_works(policy: &Value, plugins: &Value, router: &[u8], namespace: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_configmaps(&[policy, plugins], dir.path());
    let text = std::fs::read_to_string(dir.path().join("policy.yaml")).unwrap();
    let parsed = bindery::policy::parse_str(&text, "rendered policy.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed.endpoint_selectors, SELECTORS, "{text}");
    assert_eq!((parsed.ports.first, parsed.ports.last), (31000, 31999));
    assert_eq!(parsed.forwarding.connect_timeout_ms, 1500);
    assert_eq!(
        std::fs::read(dir.path().join("router.wasm")).unwrap(),
        router,
        "the router's bytes changed on the way through the chart"
    );
    let check = run_ok(
        bindery()
            .arg("plugin")
            .arg("check")
            .arg(dir.path().join("router.wasm")),
    );
    assert!(check.contains("router"), "{check}");
    // Selected: a and b (commas inside a list literal) and the database
    // (comma inside a string), each with an upstream Service in the
    // operator namespace; c is not.
    let names = plan_service_names(dir.path(), &parsed.account, namespace);
    let (upstream, target): (Vec<_>, Vec<_>) = names
        .iter()
        .partition(|n| n.starts_with(&format!("{namespace}/")));
    assert_eq!(target, ["apps/svc-a", "apps/svc-b", "data/db"], "{names:?}");
    assert_eq!(upstream.len(), 3, "{names:?}");
}

/// The args of a Deployment's first container.
fn container_args(deployment: &Value) -> Vec<String> {
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    let args = args.as_array().expect("the container has args");
    args.iter()
        .map(|a| a.as_str().expect("string args").to_string())
        .collect()
}

#[path = "deploy/apiserver.rs"]
mod apiserver;
#[path = "deploy/render.rs"]
mod render;
