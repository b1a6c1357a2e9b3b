//! Offline: lint, renders checked by `bindery`, the kustomize base against
//! the chart, the CRD copies against `bindery crd`.
use std::collections::BTreeMap;

use super::*;

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
    // drainSeconds 50 + the preStop sleep 5 + 10 to spare.
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 65);
    assert_eq!(
        pod["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"],
        5
    );
    assert_eq!(
        container_args(deployment),
        [
            "run",
            "--watch-configmap=bindery-policy",
            "--watch-configmap=bindery-plugins",
            "--admin=0.0.0.0:9090",
            "--log-format=json",
            "--cache-dir=/var/cache/bindery",
            "--registry-refresh-seconds=60",
        ]
    );
}

/// Registries as users have them: credentials from a dockerconfigjson
/// Secret, a CA bundle, plain-HTTP registries and mirrors become flags and
/// volumes `bindery run` accepts; bad values are refused by the schema.
#[test]
fn chart_registry_values_become_flags_and_volumes() {
    let values = serde_json::json!({
        "registry": {
            "credentialsSecret": "pull-creds",
            "caBundle": {"configMap": "corp-ca", "key": "bundle.pem"},
            "insecure": ["registry.lan:5000"],
            "mirrors": [{"registry": "ghcr.io", "mirror": "mirror.lan:5000"}],
            "refreshSeconds": 30,
        },
        "cache": {"sizeLimit": "2Gi"},
        "policy": {"account": "default", "router": {"plugin": "oci://ghcr.io/acme/router:v1", "config": {}}},
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values.to_string()).unwrap();
    let out = helm_template(
        "bindery",
        "bindery-system",
        &["--values", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs = documents(&text(&out.stdout));
    let deployment = find(&docs, "Deployment", "bindery");
    let args = container_args(deployment);
    assert_eq!(
        args[5..],
        [
            "--cache-dir=/var/cache/bindery",
            "--registry-refresh-seconds=30",
            "--registry-auth=/etc/bindery/registry-auth/.dockerconfigjson",
            "--registry-ca=/etc/bindery/registry-ca/bundle.pem",
            "--registry-insecure=registry.lan:5000",
            "--registry-mirror=ghcr.io=mirror.lan:5000",
        ],
        "{args:?}"
    );
    // The binary takes every one of them.
    let help = run_ok(bindery().args(["run", "--help"]));
    for a in &args[5..] {
        let flag = a.split('=').next().unwrap();
        assert!(help.contains(flag), "bindery run has no {flag}");
    }
    let spec = &deployment["spec"]["template"]["spec"];
    let volumes = spec["volumes"].as_array().unwrap();
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    assert_eq!(
        volume("registry-auth")["secret"]["secretName"],
        "pull-creds"
    );
    assert_eq!(volume("registry-ca")["configMap"]["name"], "corp-ca");
    assert_eq!(volume("cache")["emptyDir"]["sizeLimit"], "2Gi");
    let mounts = spec["containers"][0]["volumeMounts"].as_array().unwrap();
    for (name, path) in [
        ("registry-auth", "/etc/bindery/registry-auth"),
        ("registry-ca", "/etc/bindery/registry-ca"),
        ("cache", "/var/cache/bindery"),
    ] {
        assert!(
            mounts
                .iter()
                .any(|m| m["name"] == name && m["mountPath"] == path),
            "{name} not mounted at {path}: {mounts:?}"
        );
    }
    // The root filesystem stays read-only: the cache is the emptyDir.
    assert_eq!(
        spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    for (set, says) in [
        ("registry.mirrors[0].registry=ghcr.io", "mirror"),
        ("registry.refreshSeconds=-1", "refreshSeconds"),
        ("policy.router.plugin=router.so", "/policy/router/plugin"),
    ] {
        let out = helm_template("bindery", "bindery-system", &["--set", set]);
        assert!(!out.status.success(), "--set {set} rendered");
        assert!(
            text(&out.stderr).contains(says),
            "--set {set}: {}",
            text(&out.stderr)
        );
    }
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

/// A member of a hub, from the chart's values and from the kustomize
/// component: the hub's kubeconfig is a Secret mounted as a file (the
/// operator never reads Secrets), and its flags name it; a catalog URL's
/// token and CA are mounted the same way. Both renders' args `bindery run`
/// accepts.
#[test]
fn a_hub_member_takes_the_hub_kubeconfig_from_a_mounted_secret() {
    let out = helm_template(
        "bindery",
        "bindery-system",
        &[
            "--set",
            "hub.kubeconfigSecret=hub-kc,hub.namespace=acme,hub.clusterName=eu-1,localCatalog=false",
            "--set",
            "catalogURL.url=https://catalog.example/c.yaml,catalogURL.tokenSecret=cat-token,catalogURL.caConfigMap=cat-ca",
            "--set",
            "deletionGuard.percent=30,deletionGuard.holdSeconds=0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs = documents(&text(&out.stdout));
    let deployment = find(&docs, "Deployment", "bindery");
    let args = container_args(deployment);
    for want in [
        "--no-local-catalog",
        "--hub-kubeconfig=/etc/bindery/hub/kubeconfig",
        "--hub-namespace=acme",
        "--cluster-name=eu-1",
        "--catalog-url=https://catalog.example/c.yaml",
        "--catalog-url-token-file=/etc/bindery/catalog-url-token/token",
        "--catalog-url-ca-file=/etc/bindery/catalog-url-ca/ca.crt",
        "--deletion-guard-percent=30",
        "--deletion-hold-seconds=0",
    ] {
        assert!(args.iter().any(|a| a == want), "{want} not in {args:?}");
    }
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = |name: &str| {
        pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}: {pod}"))
            .clone()
    };
    assert_eq!(volume("hub-kubeconfig")["secret"]["secretName"], "hub-kc");
    assert_eq!(
        volume("catalog-url-token")["secret"]["secretName"],
        "cat-token"
    );
    assert_eq!(volume("catalog-url-ca")["configMap"]["name"], "cat-ca");
    let mounts = pod["containers"][0]["volumeMounts"].to_string();
    assert!(mounts.contains("/etc/bindery/hub"), "{mounts}");
    assert!(
        !args.iter().any(|a| a.starts_with("--deletion-guard-min")),
        "an unset guard value is bindery's default: {args:?}"
    );
    // Without the hub's namespace or the cluster name the chart refuses.
    let out = helm_template(
        "bindery",
        "bindery-system",
        &["--set", "hub.kubeconfigSecret=hub-kc,hub.namespace=acme"],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("hub.clusterName is required"));
    // The flags parse: `bindery run` refuses only for want of a cluster.
    check_run_args(&args);

    // The kustomize component, from an overlay as deploy/README.md shows.
    let overlay = tempfile::tempdir().expect("tempdir");
    let up = "../".repeat(overlay.path().components().count() - 1);
    let base = format!("{up}{}", repo_root().join(KUSTOMIZE).display());
    std::fs::write(
        overlay.path().join("hub.kubeconfig"),
        "apiVersion: v1\nkind: Config\n",
    )
    .expect("kubeconfig");
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        format!(
            "resources: [{base}]\ncomponents: [{base}/components/hub]\nconfigMapGenerator:\n  - name: bindery-hub\n    namespace: bindery-system\n    literals: [namespace=acme, clusterName=eu-1]\nsecretGenerator:\n  - name: bindery-hub\n    namespace: bindery-system\n    files: [kubeconfig=hub.kubeconfig]\n"
        ),
    )
    .expect("overlay");
    let rendered = run_ok(kubectl().args(["kustomize", overlay.path().to_str().unwrap()]));
    let docs = documents(&rendered);
    let deployment = find(&docs, "Deployment", "bindery");
    let args = container_args(deployment);
    for want in [
        "--hub-kubeconfig=/etc/bindery/hub/kubeconfig",
        "--hub-namespace=$(BINDERY_HUB_NAMESPACE)",
        "--cluster-name=$(BINDERY_CLUSTER_NAME)",
    ] {
        assert!(args.iter().any(|a| a == want), "{want} not in {args:?}");
    }
    let pod = &deployment["spec"]["template"]["spec"];
    // The generated (hashed) names are the ones referenced.
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret")
        .expect("the Secret");
    let map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["data"]["clusterName"] == "eu-1")
        .expect("the ConfigMap");
    let volumes = pod["volumes"].to_string();
    assert!(
        volumes.contains(&format!("\"secretName\":{}", secret["metadata"]["name"])),
        "{volumes}"
    );
    let env = pod["containers"][0]["env"].to_string();
    assert!(
        env.contains(&format!("\"name\":{}", map["metadata"]["name"])),
        "{env}"
    );
}

/// `bindery run <args> --help`-free check: the args parse (an unknown flag
/// or a bad value fails before any connection is tried).
fn check_run_args(args: &[String]) {
    let out = bindery()
        .args(args)
        .arg("--kubeconfig=/nonexistent/kubeconfig")
        .output()
        .expect("bindery run");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("/nonexistent/kubeconfig"),
        "the chart's args were refused before the kubeconfig was read: {stderr}"
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
    let rendered = run_ok(kubectl().args(["kustomize", KUSTOMIZE]));
    assert_kustomize_is_the_chart(&rendered, &[]);
}

/// The registry component over the base is the chart with the same
/// Secret and CA ConfigMap named.
#[test]
fn kustomize_registry_component_is_the_chart_with_registry_values() {
    let overlay = tempfile::tempdir().unwrap();
    // kustomize takes only relative paths to a base: up to / and down.
    let up = "../".repeat(overlay.path().components().count() - 1);
    let base = format!(
        "{up}{}",
        repo_root()
            .join(KUSTOMIZE)
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{base}]\ncomponents: [{base}/components/registry]\n",
        ),
    )
    .unwrap();
    let rendered = run_ok(kubectl().arg("kustomize").arg(overlay.path()));
    assert_kustomize_is_the_chart(
        &rendered,
        &[
            "--set",
            "registry.credentialsSecret=bindery-registry-credentials,registry.caBundle.configMap=bindery-registry-ca",
        ],
    );
}

fn assert_kustomize_is_the_chart(rendered: &str, chart_values: &[&str]) {
    let out = helm_template("bindery", "bindery-system", chart_values);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (chart, chart_policy) = comparable(documents(&text(&out.stdout)));
    let docs = documents(rendered);
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
