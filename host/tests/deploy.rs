//! `deploy/`: the Helm chart and the kustomize base as a cluster admin uses
//! them. Helm is installed with `go install` into a cache outside the clone
//! when missing; the renders are checked by `bindery` itself and applied to
//! the local control plane (`testenv/`), where the operator's RBAC is probed
//! by impersonating its ServiceAccount.
//!
//! `BINDERY_UPDATE_DEPLOY=1` rewrites the CRD copies from `bindery crd`
//! instead of failing on drift.
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use k8s_openapi::ByteString;
use serde_json::Value;
use support::cluster::Cluster;
use support::{bindery, repo_root};

/// The Helm release `go install` builds; the same link flags as Helm's own
/// Makefile, so `helm version` and the default Kubernetes version are right.
const HELM_VERSION: &str = "v3.21.4";
const HELM_K8S_MINOR: &str = "36";
/// What `helm template` renders for (the chart needs at least 1.27).
const KUBE_VERSION: &str = "1.33.0";
/// The kubectl built when the machine has none recent enough: testenv's.
const TESTENV_KUBE: &str = "v1.33.13";

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

/// Run and return stdout; panic with the command and both streams on failure.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The pinned Helm, built once with Go into
/// `~/.cache/bindery-tools/helm-<version>/helm`.
fn helm() -> Command {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    let path = HELM.get_or_init(|| {
        let home = std::env::var_os("HOME").expect("HOME is set");
        let dir = Path::new(&home)
            .join(".cache/bindery-tools")
            .join(format!("helm-{HELM_VERSION}"));
        let bin = dir.join("helm");
        if bin.exists() {
            return bin;
        }
        // Into a fresh directory, then renamed: a build cut short leaves
        // nothing that looks installed.
        let staging = dir.with_file_name(format!("helm-{HELM_VERSION}.tmp-{}", std::process::id()));
        std::fs::create_dir_all(&staging).expect("creating the helm staging dir");
        let ldflags = [
            format!("-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"),
            "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1".to_string(),
            format!("-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={HELM_K8S_MINOR}"),
            "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1".to_string(),
            format!("-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor={HELM_K8S_MINOR}"),
        ]
        .join(" ");
        let started = std::time::Instant::now();
        eprintln!("installing helm {HELM_VERSION} with go install (a few minutes the first time)");
        run_ok(
            Command::new("go")
                .args(["install", "-trimpath", &format!("-ldflags={ldflags}")])
                .arg(format!("helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"))
                .env("GOBIN", &staging)
                .env("CGO_ENABLED", "0")
                .current_dir(&staging),
        );
        eprintln!("helm installed in {:?}", started.elapsed());
        match std::fs::rename(&staging, &dir) {
            Ok(()) => {}
            // Another test process won the race: use its copy.
            Err(_) if bin.exists() => {
                let _ = std::fs::remove_dir_all(&staging);
            }
            Err(e) => panic!("moving {} to {}: {e}", staging.display(), dir.display()),
        }
        bin
    });
    let mut cmd = Command::new(path);
    // No user's repositories or plugins: only the chart in the tree.
    let config = std::env::temp_dir().join(format!("bindery-deploy-helm-{}", std::process::id()));
    cmd.env("HELM_CONFIG_HOME", config.join("config"))
        .env("HELM_CACHE_HOME", config.join("cache"))
        .env("HELM_DATA_HOME", config.join("data"))
        .current_dir(repo_root());
    cmd
}

/// kubectl 1.27 or later (its kustomize v5 knows the base's `labels` field):
/// the machine's, else one built with Go by `testenv/build-kube-apiserver`
/// into `~/.cache/bindery-tools/kubectl-<testenv's version>`.
fn kubectl() -> Command {
    static KUBECTL: OnceLock<PathBuf> = OnceLock::new();
    let path = KUBECTL.get_or_init(|| {
        let minor = Command::new("kubectl")
            .args(["version", "--client", "-o", "json"])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
            .and_then(|v| {
                let minor = v["clientVersion"]["minor"].as_str()?.trim_end_matches('+');
                minor.parse::<u32>().ok()
            });
        if minor.is_some_and(|m| m >= 27) {
            return PathBuf::from("kubectl");
        }
        let home = std::env::var_os("HOME").expect("HOME is set");
        let bin = Path::new(&home).join(format!(".cache/bindery-tools/kubectl-{TESTENV_KUBE}"));
        if !bin.exists() {
            eprintln!(
                "kubectl on PATH is missing or older than 1.27 ({minor:?}): building {}",
                bin.display()
            );
            run_ok(
                Command::new(repo_root().join("testenv/build-kube-apiserver"))
                    .arg(&bin)
                    .arg("kubectl")
                    .env("BINDERY_TESTENV_KUBE_VERSION", TESTENV_KUBE),
            );
        }
        bin
    });
    let mut cmd = Command::new(path);
    cmd.current_dir(repo_root());
    cmd
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

#[test]
fn chart_lints_clean_and_rejects_bad_values() {
    let out = run_ok(helm().args(["lint", "--strict", CHART]));
    for line in out.lines() {
        assert!(
            !line.contains("[WARNING]") && !line.contains("[ERROR]"),
            "helm lint: {line}\n{out}"
        );
    }
    let custom = custom_values("team-a");
    let lint = helm()
        .args(["lint", "--strict", CHART])
        .args(strs(&custom.args))
        .output()
        .unwrap();
    assert!(lint.status.success(), "{}", text(&lint.stdout));

    for (set, says) in [
        ("policy.account=bad/account", "/policy/account"),
        ("plugins.files.policy\\.yaml=x", "policy.yaml"),
        ("replicaCount=0", "replicaCount"),
    ] {
        let out = helm_template("bindery", "bindery-system", &["--set", set]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "--set {set} rendered");
        assert!(stderr.contains(says), "--set {set}: {stderr}");
    }
}

#[test]
fn chart_renders_commas_in_cel_and_plugins_that_bindery_accepts() {
    let custom = custom_values("team-a");
    let out = helm_template("bindery", "bindery-system", &strs(&custom.args));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs = documents(&text(&out.stdout));
    let policy = find(&docs, "ConfigMap", "bindery-policy");
    let plugins = find(&docs, "ConfigMap", "bindery-plugins");
    assert_custom_policy_works(policy, plugins, &custom.router, "bindery-system");

    let deployment = find(&docs, "Deployment", "bindery");
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["bindery.dev/account"], "team-a");
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/name"],
        "bindery"
    );
    // drainSeconds 50 + 10 to spare.
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 60);
    assert_eq!(
        container_args(deployment),
        [
            "run",
            "--watch-configmap=bindery-policy",
            "--watch-configmap=bindery-plugins",
            "--admin=0.0.0.0:9090",
            "--log-format=json",
        ]
    );
}

/// The args of a Deployment's first container.
fn container_args(deployment: &Value) -> Vec<String> {
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    let args = args.as_array().expect("the container has args");
    args.iter()
        .map(|a| a.as_str().expect("string args").to_string())
        .collect()
}

/// The chart's defaults: one replica has no PodDisruptionBudget, a
/// ServiceMonitor only on request, and the operator's own label pair is on
/// nothing it installs (it would delete such a Service as an orphan).
#[test]
fn chart_defaults_and_switches() {
    let render = |extra: &[&str]| {
        let out = helm_template("bindery", "bindery-system", extra);
        assert!(out.status.success(), "{}", text(&out.stderr));
        documents(&text(&out.stdout))
    };
    let kinds = |docs: &[Value]| docs.iter().map(kind_and_name).collect::<Vec<_>>();
    let defaults = render(&[]);
    for doc in &defaults {
        assert_ne!(
            doc["metadata"]["labels"]["app.kubernetes.io/managed-by"], "bindery",
            "{doc}"
        );
    }
    let pdb = ("PodDisruptionBudget".to_string(), "bindery".to_string());
    let monitor = ("ServiceMonitor".to_string(), "bindery".to_string());
    assert!(kinds(&defaults).contains(&pdb));
    assert!(!kinds(&defaults).contains(&monitor));
    assert!(!kinds(&render(&["--set", "replicaCount=1"])).contains(&pdb));
    let with_monitor = render(&["--set", "metrics.serviceMonitor.enabled=true"]);
    assert!(kinds(&with_monitor).contains(&monitor));
    // Without the API watch, the mounted volume (always there) is read.
    let volume = render(&["--set", "watchConfigMaps=false,catalogNamespace=catalog"]);
    let args = container_args(find(&volume, "Deployment", "bindery"));
    assert_eq!(
        args[..3],
        [
            "run",
            "--policy=/etc/bindery/policy",
            "--catalog-namespace=catalog"
        ],
        "{args:?}"
    );
    // A catalog elsewhere gets a Role of its own there.
    let role = find(&volume, "Role", "bindery-catalog");
    assert_eq!(role["metadata"]["namespace"], "catalog");
    let own = render(&["--set", "plugins.create=false"]);
    assert!(
        !kinds(&own).contains(&("ConfigMap".to_string(), "bindery-plugins".to_string())),
        "plugins.create=false still renders the ConfigMap"
    );
}

#[test]
fn crd_copies_match_bindery_crd() {
    let crd = run_ok(bindery().arg("crd"));
    let update = std::env::var_os("BINDERY_UPDATE_DEPLOY").is_some();
    for file in [CHART_CRD, KUSTOMIZE_CRD] {
        let path = repo_root().join(file);
        if update {
            std::fs::write(&path, &crd).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == crd,
            "{file} differs from `bindery crd`: run BINDERY_UPDATE_DEPLOY=1 cargo test --release --test deploy crd"
        );
    }
}

/// Labels only Helm writes; the kustomize base has no release to name.
const HELM_ONLY_LABELS: [&str; 3] = [
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
];

/// By (kind, name), without the CRD and the Namespace (the chart installs
/// the CRD from crds/ and leaves the namespace to --create-namespace), with
/// Helm's own labels dropped and policy.yaml parsed.
fn comparable(docs: Vec<Value>) -> (BTreeMap<(String, String), Value>, bindery::policy::Policy) {
    let mut policy = None;
    let mut out = BTreeMap::new();
    for mut doc in docs {
        let key = kind_and_name(&doc);
        if key.0 == "CustomResourceDefinition" || key.0 == "Namespace" {
            continue;
        }
        if let Some(labels) = doc["metadata"]["labels"].as_object_mut() {
            labels.retain(|k, _| !HELM_ONLY_LABELS.contains(&k.as_str()));
        }
        if key == ("ConfigMap".to_string(), "bindery-policy".to_string()) {
            let text = doc["data"]["policy.yaml"].take();
            let text = text.as_str().expect("policy.yaml");
            policy = Some(
                bindery::policy::parse_str(text, &key.1).unwrap_or_else(|e| panic!("{e}\n{text}")),
            );
        }
        out.insert(key, doc);
    }
    (out, policy.expect("a bindery-policy ConfigMap"))
}

#[test]
fn kustomize_base_is_the_chart_with_its_defaults() {
    let out = helm_template("bindery", "bindery-system", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (chart, chart_policy) = comparable(documents(&text(&out.stdout)));
    let rendered = run_ok(kubectl().args(["kustomize", KUSTOMIZE]));
    let docs = documents(&rendered);
    let crd = find(
        &docs,
        "CustomResourceDefinition",
        "boundendpoints.bindery.dev",
    );
    assert_eq!(crd["spec"]["group"], "bindery.dev");
    let ns = find(&docs, "Namespace", "bindery-system");
    assert_eq!(ns["apiVersion"], "v1");
    let (base, base_policy) = comparable(docs);

    assert_eq!(base_policy, chart_policy, "policy.yaml differs");
    assert_eq!(
        base.keys().collect::<Vec<_>>(),
        chart.keys().collect::<Vec<_>>(),
        "the two install different objects"
    );
    for (key, want) in &chart {
        let have = &base[key];
        assert!(
            have == want,
            "{key:?} differs:\nkustomize:\n{}\nhelm:\n{}",
            serde_json::to_string_pretty(have).unwrap(),
            serde_json::to_string_pretty(want).unwrap()
        );
    }
}

/// The apiserver of this test binary (`support::cluster`: one testenv,
/// stopped when the binary exits), driven with the kubectl chosen above.
struct Env(&'static Cluster);

impl Env {
    fn get() -> Env {
        Env(support::cluster::cluster("deploy"))
    }

    fn kubeconfig(&self) -> &Path {
        &self.0.kubeconfig
    }

    fn kubectl(&self) -> Command {
        let mut cmd = kubectl();
        cmd.arg("--kubeconfig").arg(self.kubeconfig());
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        run_ok(self.kubectl().args(args))
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(&[args, &["-o", "json"]].concat());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"))
    }
}

/// Where `sa` is not allowed what it should be, or allowed what it should
/// not: `(verb, resource[/subresource], namespace or "" for all, allowed)`.
fn can_i(env: &Env, sa: &str, checks: &[(&str, &str, &str, bool)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for &(verb, resource, ns, want) in checks {
        let mut cmd = env.kubectl();
        cmd.args(["auth", "can-i", verb, "--as", sa]);
        match resource.split_once('/') {
            Some((resource, sub)) => cmd.args([resource, &format!("--subresource={sub}")]),
            None => cmd.arg(resource),
        };
        if ns.is_empty() {
            cmd.arg("--all-namespaces");
        } else {
            cmd.args(["-n", ns]);
        }
        let out = cmd.output().expect("kubectl auth can-i");
        let answer = text(&out.stdout).trim().to_string();
        assert!(
            answer == "yes" || answer == "no",
            "{cmd:?}: {answer} {}",
            text(&out.stderr)
        );
        if (answer == "yes") != want {
            wrong.push(format!("{sa} {verb} {resource} in {ns:?}: {answer}"));
        }
    }
    wrong
}

/// Both renders applied to a real apiserver (kustomize with `kubectl apply
/// -k`, the chart with server-side apply into a second namespace for a
/// second account), the CRD served, and the operator's ServiceAccounts
/// allowed exactly what `bindery run` needs, probed with can-i and with
/// real requests under impersonation.
#[test]
fn renders_apply_to_an_apiserver_with_least_privilege_rbac() {
    let custom = custom_values("team-b");
    let out = helm_template(
        "bindery-b",
        "team-b",
        &[strs(&custom.args), vec!["--include-crds"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rendered = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rendered.path(), &out.stdout).unwrap();
    let chart = rendered.path().to_str().unwrap();

    let env = Env::get();
    // The pod templates meet the "restricted" Pod Security Standard: both
    // namespaces are labelled to warn, and the apiserver warns on create
    // about a template that would not.
    let team_b = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        team_b.path(),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n  labels:\n    \
         pod-security.kubernetes.io/warn: restricted\n",
    )
    .unwrap();
    for apply in [
        &["apply", "-k", KUSTOMIZE][..],
        &["apply", "-f", team_b.path().to_str().unwrap()],
        &[
            "apply",
            "--server-side",
            "--field-manager=helm-render",
            "-f",
            chart,
        ],
    ] {
        let out = env.kubectl().args(apply).output().unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{apply:?}: {stderr}");
        assert!(!stderr.contains("PodSecurity"), "{apply:?}: {stderr}");
    }
    env.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/boundendpoints.bindery.dev",
    ]);

    for (ns, name) in [("bindery-system", "bindery"), ("team-b", "bindery-b")] {
        let names = env.ok(&[
            "get",
            "-n",
            ns,
            "-o",
            "name",
            &format!("deployment/{name}"),
            &format!("serviceaccount/{name}"),
            &format!("role/{name}"),
            &format!("rolebinding/{name}"),
            &format!("configmap/{name}-policy"),
            &format!("configmap/{name}-plugins"),
            &format!("service/{name}-metrics"),
            &format!("poddisruptionbudget/{name}"),
            &format!("clusterrole/{name}"),
            &format!("clusterrolebinding/{name}"),
        ]);
        assert_eq!(names.lines().count(), 10, "{ns}: {names}");
        let deployment = env.json(&["get", "-n", ns, "deployment", name]);
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(spec["serviceAccountName"], name);
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
            true
        );
    }

    // What the apiserver stored is what the operator will read.
    let policy = env.json(&["get", "-n", "team-b", "configmap", "bindery-b-policy"]);
    let plugins = env.json(&["get", "-n", "team-b", "configmap", "bindery-b-plugins"]);
    assert_custom_policy_works(&policy, &plugins, &custom.router, "team-b");

    // The CRD serves the example of NOTES.txt.
    env.ok(&["create", "namespace", "storage"]);
    let example = repo_root().join("deploy/helm/bindery/templates/NOTES.txt");
    let notes = std::fs::read_to_string(example).unwrap();
    let manifest: String = notes
        .split("<<'YAML'\n")
        .nth(1)
        .and_then(|s| s.split("  YAML\n").next())
        .expect("NOTES.txt has a BoundEndpoint example")
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), manifest).unwrap();
    env.ok(&[
        "apply",
        "-n",
        "bindery-system",
        "-f",
        file.path().to_str().unwrap(),
    ]);

    let sa = "system:serviceaccount:bindery-system:bindery";
    let sa_b = "system:serviceaccount:team-b:bindery-b";
    let mut wrong = Vec::new();
    for (sa, own, other) in [
        (sa, "bindery-system", "team-b"),
        (sa_b, "team-b", "bindery-system"),
    ] {
        wrong.extend(can_i(
            &env,
            sa,
            &[
                // Services anywhere: SSA, cleanup, the watch.
                ("patch", "services", "storage", true),
                ("create", "services", "storage", true),
                ("delete", "services", own, true),
                ("watch", "services", "", true),
                ("list", "namespaces", "", true),
                ("create", "namespaces", "", false),
                ("delete", "namespaces", "", false),
                // The catalog and Events: its own namespace only.
                ("watch", "boundendpoints.bindery.dev", own, true),
                ("patch", "boundendpoints.bindery.dev/status", own, true),
                ("update", "boundendpoints.bindery.dev", own, false),
                ("delete", "boundendpoints.bindery.dev", own, false),
                ("watch", "boundendpoints.bindery.dev", other, false),
                ("list", "boundendpoints.bindery.dev", "", false),
                ("patch", "boundendpoints.bindery.dev/status", other, false),
                ("create", "events.events.k8s.io", own, true),
                ("patch", "events", own, true),
                ("create", "events.events.k8s.io", "storage", false),
                ("create", "events", other, false),
                // The Lease and the ConfigMaps: its own namespace only.
                ("update", "leases.coordination.k8s.io", own, true),
                ("create", "leases.coordination.k8s.io", own, true),
                ("update", "leases.coordination.k8s.io", other, false),
                ("update", "leases.coordination.k8s.io", "kube-system", false),
                ("watch", "configmaps", own, true),
                ("get", "configmaps", other, false),
                ("update", "configmaps", own, false),
                // Never secrets, never everything.
                ("get", "secrets", own, false),
                ("list", "secrets", "", false),
                ("*", "*", own, false),
                ("*", "*", "", false),
                ("create", "pods", own, false),
                ("update", "deployments.apps", own, false),
                (
                    "create",
                    "clusterroles.rbac.authorization.k8s.io",
                    "",
                    false,
                ),
                ("escalate", "roles.rbac.authorization.k8s.io", own, false),
                ("impersonate", "serviceaccounts", own, false),
            ],
        ));
    }
    assert!(
        wrong.is_empty(),
        "RBAC is not as designed:\n{}",
        wrong.join("\n")
    );

    // Real requests as the operator: list the catalog, write a status,
    // server-side apply a Service elsewhere, take the Lease.
    let as_sa = |args: &[&str]| {
        let mut cmd = env.kubectl();
        cmd.args(args).args(["--as", sa]);
        cmd.output().expect("kubectl as the operator")
    };
    let listed = as_sa(&[
        "get",
        "boundendpoints",
        "-n",
        "bindery-system",
        "-o",
        "name",
    ]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(text(&listed.stdout).trim(), "boundendpoint.bindery.dev/rgw");
    let status = as_sa(&[
        "patch",
        "boundendpoint",
        "rgw",
        "-n",
        "bindery-system",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"target":"storage/rgw"}}"#,
    ]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let svc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        svc.path(),
        "apiVersion: v1\nkind: Service\nmetadata: {name: rgw, namespace: storage}\n\
         spec: {type: ExternalName, externalName: rgw-storage-7480.bindery-system.svc.cluster.local}\n",
    )
    .unwrap();
    let applied = as_sa(&[
        "apply",
        "--server-side",
        "--field-manager=bindery",
        "-f",
        svc.path().to_str().unwrap(),
    ]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let lease = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        lease.path(),
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: bindery-default}\n\
         spec: {holderIdentity: test, leaseDurationSeconds: 15}\n",
    )
    .unwrap();
    let lease = lease.path().to_str().unwrap();
    let taken = as_sa(&["create", "-n", "bindery-system", "-f", lease]);
    assert!(taken.status.success(), "{}", text(&taken.stderr));
    for denied in [
        as_sa(&["create", "-n", "team-b", "-f", lease]),
        as_sa(&["get", "secrets", "-n", "bindery-system"]),
    ] {
        assert!(
            !denied.status.success(),
            "allowed: {}",
            text(&denied.stdout)
        );
        assert!(
            text(&denied.stderr).contains("forbidden"),
            "{}",
            text(&denied.stderr)
        );
    }
}

/// `helm install` and `helm upgrade` against the apiserver: a raw plugin
/// from `--set-file` arrives intact, `--reuse-values` (whose stored JSON
/// mangles binary) is refused with a way out rather than shipping a broken
/// component, and `plugins.base64` survives it byte for byte.
#[test]
fn helm_upgrades_keep_plugin_bytes_or_refuse() {
    let (_, router) = bindery::plugin::builtin::get("weighted").expect("a built-in router");
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("router.wasm");
    std::fs::write(&raw, router).unwrap();
    let b64 = dir.path().join("router.wasm.b64");
    let encoded = base64_encode(router);
    // Wrapped at 76 columns, as `base64` writes it by default.
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    std::fs::write(&b64, wrapped.join("\n") + "\n").unwrap();

    let env = Env::get();
    let helm_in = |args: &[&str]| {
        let mut cmd = helm();
        cmd.env("KUBECONFIG", env.kubeconfig()).args(args).args([
            "bindery-c",
            CHART,
            "-n",
            "team-c",
            "--set",
            "policy.account=c",
        ]);
        cmd.output().expect("running helm")
    };
    let stored = || {
        let map = env.json(&["get", "-n", "team-c", "configmap", "bindery-c-plugins"]);
        base64_decode(
            map["binaryData"]["router.wasm"]
                .as_str()
                .unwrap_or_default(),
        )
    };
    let set_raw = format!("plugins.files.router\\.wasm={}", raw.display());
    let set_b64 = format!("plugins.base64.router\\.wasm={}", b64.display());

    let out = helm_in(&["install", "--create-namespace", "--set-file", &set_raw]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stored() == router,
        "helm install changed the plugin's bytes"
    );

    let out = helm_in(&["upgrade", "--reuse-values", "--set", "replicaCount=3"]);
    assert!(
        !out.status.success(),
        "--reuse-values of a binary value went through"
    );
    assert!(
        text(&out.stderr).contains("plugins.base64"),
        "{}",
        text(&out.stderr)
    );
    assert!(stored() == router, "a refused upgrade changed the plugin");

    let out = helm_in(&["upgrade", "--reset-values", "--set-file", &set_b64]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = helm_in(&["upgrade", "--reuse-values", "--set", "replicaCount=3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stored() == router,
        "plugins.base64 did not survive --reuse-values"
    );
    let deployment = env.json(&["get", "-n", "team-c", "deployment", "bindery-c"]);
    assert_eq!(deployment["spec"]["replicas"], 3);
}
