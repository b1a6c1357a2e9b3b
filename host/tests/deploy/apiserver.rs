//! Against the test binary's kube-apiserver: both renders applied, the
//! RBAC probed as the ServiceAccounts, Helm installs and upgrades, and the
//! real operator running on the chart's RBAC.
use super::support::cluster::{Cluster, Operator};
use super::support::wait_for;
use super::*;

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
                // Direct mode's EndpointSlices, as the Services.
                ("patch", "endpointslices.discovery.k8s.io", "storage", true),
                ("create", "endpointslices.discovery.k8s.io", "storage", true),
                ("update", "endpointslices.discovery.k8s.io", "storage", true),
                ("delete", "endpointslices.discovery.k8s.io", own, true),
                ("get", "endpointslices.discovery.k8s.io", "storage", true),
                ("list", "endpointslices.discovery.k8s.io", "", true),
                ("watch", "endpointslices.discovery.k8s.io", "", true),
                (
                    "deletecollection",
                    "endpointslices.discovery.k8s.io",
                    own,
                    false,
                ),
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
    let slice = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        slice.path(),
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: rgw-direct\n  namespace: storage\n  \
         labels: {kubernetes.io/service-name: rgw-direct, endpointslice.kubernetes.io/managed-by: bindery.dev}\n\
         addressType: IPv4\nendpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]\nports: [{name: tcp-7480, port: 7480}]\n",
    )
    .unwrap();
    let applied = as_sa(&[
        "apply",
        "--server-side",
        "--field-manager=bindery",
        "-f",
        slice.path().to_str().unwrap(),
    ]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let deleted = as_sa(&["delete", "endpointslice", "rgw-direct", "-n", "storage"]);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
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

/// The real operator with the chart's RBAC and the Deployment's own args:
/// `bindery run` as the ServiceAccount (a token from the TokenRequest API,
/// nothing else), reading its policy through `--watch-configmap`. It takes
/// the Lease, projects a BoundEndpoint into both Services (the upstream
/// one selecting the chart's pods), reports a conflict with a status and an
/// Event, follows a policy change in the ConfigMap by deleting what it no
/// longer selects, and is never refused a request.
#[test]
fn operator_runs_on_the_charts_rbac() {
    let env = Env::get();
    let out = helm_template("bindery-op", "op", &["--set", "policy.account=op"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs = documents(&text(&out.stdout));
    let rendered = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rendered.path(), &out.stdout).unwrap();
    env.ok(&["create", "namespace", "op"]);
    env.ok(&["create", "namespace", "op-apps"]);
    env.ok(&[
        "apply",
        "--server-side",
        "-f",
        rendered.path().to_str().unwrap(),
    ]);

    // Someone else's Service where an endpoint wants its name.
    env.ok(&[
        "create",
        "service",
        "clusterip",
        "taken",
        "-n",
        "op-apps",
        "--tcp=80",
    ]);
    let catalog = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        catalog.path(),
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {name: web, namespace: op}\n\
         spec: {url: 'http://web.op-apps:8080', account: op, upstreams: [{address: '127.0.0.1:9'}]}\n\
         ---\n\
         apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {name: taken, namespace: op}\n\
         spec: {url: 'http://taken.op-apps:80', account: op, upstreams: [{address: '127.0.0.1:9'}]}\n",
    )
    .unwrap();
    env.ok(&["apply", "-f", catalog.path().to_str().unwrap()]);

    // A kubeconfig holding only the ServiceAccount's token.
    let token = env.ok(&["create", "token", "bindery-op", "-n", "op", "--duration=1h"]);
    let admin = std::fs::read_to_string(env.kubeconfig()).unwrap();
    let mut config: Value = serde_saphyr::from_str(&admin).expect("the admin kubeconfig");
    for user in config["users"].as_array_mut().expect("users") {
        user["user"] = serde_json::json!({"token": token.trim()});
    }
    let dir = tempfile::tempdir().unwrap();
    let sa_config = dir.path().join("kubeconfig");
    std::fs::write(&sa_config, serde_json::to_string(&config).unwrap()).unwrap();
    let as_sa = Cluster {
        dir: dir.path().to_path_buf(),
        kubeconfig: sa_config,
    };

    // The Deployment's args, but for the addresses and the cache's
    // emptyDir: this is no pod.
    let deployment = find(&docs, "Deployment", "bindery-op");
    let mut args: Vec<String> = container_args(deployment)
        .into_iter()
        .filter(|a| a != "run" && !a.starts_with("--admin=") && !a.starts_with("--cache-dir="))
        .collect();
    args.extend([
        "--listen=127.0.0.1".into(),
        "--operator-namespace=op".into(),
        format!("--cache-dir={}", dir.path().join("cache").display()),
    ]);
    let mut operator = Operator::start(&as_sa, "bindery-op-0", &strs(&args));

    let limit = std::time::Duration::from_secs(90);
    let get = |kind: &str, ns: &str, name: &str, path: &str| env.0.get(kind, ns, name, path);
    wait_for(limit, "the Lease", || {
        get("lease", "op", "bindery-op", "{.spec.holderIdentity}").as_deref()
            == Some("bindery-op-0")
    });
    let ready = |name: &str| {
        get(
            "boundendpoint",
            "op",
            name,
            r#"{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}"#,
        )
        .unwrap_or_default()
    };
    wait_for(limit, "web to be Ready", || {
        ready("web").starts_with("True/")
    });
    wait_for(limit, "taken to be a Conflict", || {
        ready("taken") == "False/Conflict"
    });
    assert_eq!(
        get(
            "service",
            "op-apps",
            "web",
            "{.spec.type}/{.spec.externalName}"
        )
        .unwrap_or_default()
        .split('.')
        .nth(1),
        Some("op"),
        "the target Service points into the operator namespace"
    );
    let upstreams = env.json(&[
        "get",
        "service",
        "-n",
        "op",
        "-l",
        "app.kubernetes.io/managed-by=bindery,bindery.dev/account=op",
    ]);
    let upstreams = upstreams["items"].as_array().expect("items");
    let urls: Vec<&str> = upstreams
        .iter()
        .filter_map(|u| u["metadata"]["annotations"]["bindery.dev/urls"].as_str())
        .collect();
    assert!(urls.contains(&"http://web.op-apps:8080"), "{urls:?}");
    // The upstream Services reach the forwarders: the chart's pods.
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for upstream in upstreams {
        let selector = upstream["spec"]["selector"]
            .as_object()
            .expect("a selector");
        assert!(!selector.is_empty());
        for (k, v) in selector {
            assert_eq!(
                &pod_labels[k], v,
                "an upstream Service selects {k}={v}; the pods have {pod_labels}"
            );
        }
    }
    assert_eq!(
        get(
            "service",
            "op-apps",
            "taken",
            "{.spec.type} {.metadata.labels}"
        )
        .unwrap_or_default(),
        r#"ClusterIP {"app":"taken"}"#,
        "someone else's Service was modified"
    );
    wait_for(limit, "a Conflict Event", || {
        let events = env.json(&["get", "events.events.k8s.io", "-n", "op"]);
        events["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|e| e["reason"] == "Conflict"))
    });

    // A policy change through the ConfigMap: web is no longer selected.
    let policy = "account: op\nendpointSelectors: [\"endpoint.name != 'web'\"]\n";
    let patch = serde_json::json!({"data": {"policy.yaml": policy}}).to_string();
    env.ok(&[
        "patch",
        "configmap",
        "bindery-op-policy",
        "-n",
        "op",
        "--type=merge",
        "-p",
        &patch,
    ]);
    wait_for(limit, "web's Services to be deleted", || {
        get("service", "op-apps", "web", "{.metadata.name}").is_none()
    });
    wait_for(limit, "web to be NotSelected", || {
        ready("web").starts_with("False/")
    });

    operator.stop();
    let log = std::fs::read_to_string(&operator.log).unwrap_or_default();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.to_lowercase().contains("forbidden"))
        .collect();
    assert!(
        refused.is_empty(),
        "the operator was refused:\n{}",
        refused.join("\n")
    );
    assert_ne!(
        get("lease", "op", "bindery-op", "{.spec.holderIdentity}").as_deref(),
        Some("bindery-op-0"),
        "the Lease was not released on SIGTERM"
    );
}

/// The hub side of deploy/README.md: per member a ServiceAccount
/// (`deploy/hub/member.yaml`) that reads its hub namespace, patches status
/// there and holds its own Lease, nothing else; probed with can-i and with
/// real requests as two members, one of which cannot touch the other's
/// Lease.
#[test]
fn a_hub_members_rbac_reads_its_namespace_and_writes_only_status() {
    let env = Env::get();
    let hub_ns = "hub-acme";
    env.0.namespace(hub_ns);
    env.0.namespace("hub-other");
    let template =
        std::fs::read_to_string(repo_root().join("deploy/hub/member.yaml")).expect("member.yaml");
    for member in ["eu-1", "us-1"] {
        env.0.apply(
            &template
                .replace("MEMBER", member)
                .replace("HUB_NAMESPACE", hub_ns),
        );
    }
    env.0.apply(&format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: db, namespace: {hub_ns}}}\nspec: {{url: \"tcp://db.data:5432\", account: acme, upstreams: [{{address: \"10.0.0.1:5432\"}}]}}\n"
    ));
    let sa = format!("system:serviceaccount:{hub_ns}:bindery-member-eu-1");
    let wrong = can_i(
        &env,
        &sa,
        &[
            ("list", "boundendpoints.bindery.dev", hub_ns, true),
            ("watch", "boundendpoints.bindery.dev", hub_ns, true),
            ("patch", "boundendpoints.bindery.dev/status", hub_ns, true),
            ("update", "boundendpoints.bindery.dev", hub_ns, false),
            ("patch", "boundendpoints.bindery.dev", hub_ns, false),
            ("delete", "boundendpoints.bindery.dev", hub_ns, false),
            ("create", "boundendpoints.bindery.dev", hub_ns, false),
            ("list", "boundendpoints.bindery.dev", "hub-other", false),
            (
                "patch",
                "boundendpoints.bindery.dev/status",
                "hub-other",
                false,
            ),
            ("list", "boundendpoints.bindery.dev", "", false),
            ("create", "leases.coordination.k8s.io", hub_ns, true),
            ("update", "leases.coordination.k8s.io", hub_ns, false),
            ("create", "leases.coordination.k8s.io", "hub-other", false),
            ("get", "secrets", hub_ns, false),
            ("list", "services", hub_ns, false),
            ("*", "*", hub_ns, false),
        ],
    );
    assert!(
        wrong.is_empty(),
        "hub RBAC is not as designed:\n{}",
        wrong.join("\n")
    );
    let named = |verb: &str, lease: &str| {
        let out = env
            .kubectl()
            .args([
                "auth",
                "can-i",
                verb,
                &format!("leases/{lease}"),
                "-n",
                hub_ns,
                "--as",
                &sa,
            ])
            .output()
            .expect("can-i");
        text(&out.stdout).trim() == "yes"
    };
    assert!(named("update", "bindery-member-eu-1"));
    assert!(named("get", "bindery-member-eu-1"));
    assert!(
        !named("update", "bindery-member-us-1"),
        "eu-1 may take us-1's name"
    );

    // Real requests: read, patch the status with server-side apply as the
    // member's field manager; the spec stays out of reach.
    let as_sa = |args: &[&str]| {
        let mut cmd = env.kubectl();
        cmd.args(args).args(["--as", &sa]);
        cmd.output().expect("kubectl as the member")
    };
    let listed = as_sa(&["get", "boundendpoints", "-n", hub_ns, "-o", "name"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(text(&listed.stdout).trim(), "boundendpoint.bindery.dev/db");
    let entry = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        entry.path(),
        format!(
            "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: db, namespace: {hub_ns}}}\nstatus: {{clusters: [{{cluster: eu-1, ready: \"True\", reason: Projected}}], clusterCount: 1}}\n"
        ),
    )
    .unwrap();
    let status = as_sa(&[
        "apply",
        "--server-side",
        "--subresource=status",
        "--field-manager=bindery-eu-1",
        "-f",
        entry.path().to_str().unwrap(),
    ]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let spec = as_sa(&[
        "patch",
        "boundendpoint",
        "db",
        "-n",
        hub_ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"url":"tcp://evil.data:5432"}}"#,
    ]);
    assert!(!spec.status.success(), "a member changed the hub's spec");
    let annotated = as_sa(&["annotate", "boundendpoint", "db", "-n", hub_ns, "x=y"]);
    assert!(
        !annotated.status.success(),
        "a member annotated the hub's object"
    );
}
