//! Bindery the way a user runs it, on the node of `testenv/start --node`:
//! the image built from the working tree, the chart installed with Helm and
//! the kustomize base with kubectl, and traffic from a client pod by name
//! through CoreDNS, the ExternalName Service, the upstream Service,
//! kube-proxy and the forwarder pods to upstream servers in the node's
//! network namespace. Then the policy ConfigMap changed under the running
//! pods (the API watch and the kubelet's volume), a rollout under load, and
//! a forced deletion of the Lease holder.
//!
//! The tests share one node and one Helm release and run one at a time.
//! Each prints its measurements as `node-figure:` lines (BENCHMARKS.md,
//! "On a node", collects them); none is asserted on.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use support::node::{HttpUpstream, Load, Node, TcpUpstream, figure, get_once, node};
use support::tools::{helm, run_ok};
use support::wait_for;

const NS: &str = "bindery-helm";
/// The release (and so the Deployment, ConfigMaps and cluster roles).
const RELEASE: &str = "bindery-helm";
const ACCOUNT: &str = "helm";
/// The Lease of the account.
const LEASE: &str = "bindery-helm";
const RGW: &str = "http://rgw.storage:7480";
const DB: &str = "tcp://orders-db.billing:5432";
const CLIENTS: &str = "clients";
const PODS: &str = "app.kubernetes.io/name=bindery,bindery.dev/account=helm";
/// Bound on waits for the cluster to act; the machine is shared.
const PATIENCE: Duration = Duration::from_secs(180);
/// How long the kubelet may take to update a ConfigMap volume: testenv's
/// node syncs a pod every 10 s (the default is a minute); the machine is
/// shared.
const KUBELET_SYNC: Duration = Duration::from_secs(90);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn cluster() -> &'static Node {
    node("node")
}

/// [`wait_for`], and how long it took.
fn timed(limit: Duration, what: &str, cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    wait_for(limit, what, cond);
    start.elapsed()
}

/// The policy of the release as the chart writes it, with `router`.
fn policy(router: &str) -> String {
    format!(
        "account: {ACCOUNT}\nclusterDomain: cluster.local\nendpointSelectors: []\nnaming: {{plugin: builtin:naming-default, config: {{}}}}\nrouter: {router}\nports: {{first: 20000, last: 29999}}\nforwarding: {{drainSeconds: 10}}\n"
    )
}

const ROUND_ROBIN: &str = "{plugin: builtin:round-robin, config: {}}";
const BY_USER: &str = "{plugin: builtin:consistent-hash, config: {header: x-user}}";
/// Refused by the plugin's configure: an unknown field.
const BROKEN: &str = "{plugin: builtin:consistent-hash, config: {bogus: 1}}";

fn helm_args(n: &Node, extra: &[&str]) -> Vec<String> {
    let (repo, tag) = n.bindery_image.split_once(':').expect("image name:tag");
    let mut args: Vec<String> = [
        "--namespace",
        NS,
        "--kubeconfig",
        n.kubeconfig.to_str().expect("utf-8 path"),
        "--set",
        &format!("image.repository={repo}"),
        "--set",
        &format!("image.tag={tag}"),
        "--set",
        &format!("policy.account={ACCOUNT}"),
        // Short drains: a rollout takes as long as its slowest drain.
        "--set",
        "policy.forwarding.drainSeconds=10",
        "--wait",
        "--timeout",
        "5m",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The release, installed once: both replicas Ready (`helm --wait`).
fn release() -> &'static Node {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let n = cluster();
    INSTALLED.get_or_init(|| {
        let started = Instant::now();
        run_ok(
            helm()
                .args([
                    "install",
                    RELEASE,
                    "deploy/helm/bindery",
                    "--create-namespace",
                ])
                .args(helm_args(n, &[])),
        );
        figure(
            "helm install --wait to both replicas Ready (s)",
            format!("{:.1}", started.elapsed().as_secs_f64()),
        );
    });
    n
}

/// Two Ready replicas and no other pod (a replaced one may stay Running
/// through its preStop sleep and drain), as the Deployment and the pods say.
fn assert_two_ready(n: &Node, ns: &str, deployment: &str, selector: &str) {
    let pods = || {
        n.kubectl(&[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            selector,
            "-o",
            "jsonpath={.items[*].status.phase}",
        ])
    };
    wait_for(PATIENCE, "two Ready replicas and no other pod", || {
        n.ready_pod_ips(ns, selector).len() == 2
            && pods().split_whitespace().count() == 2
            && n.kubectl(&[
                "get",
                "deployment",
                deployment,
                "-n",
                ns,
                "-o",
                "jsonpath={.status.readyReplicas}",
            ]) == "2"
    });
    assert_eq!(
        pods().split_whitespace().collect::<Vec<_>>(),
        ["Running", "Running"]
    );
}

#[test]
fn helm_chart_runs_two_ready_replicas() {
    let _s = serial();
    let n = release();
    assert_two_ready(n, NS, RELEASE, PODS);
    // Running as the image's non-root user, with the chart's probes passing.
    let pod = n.json(&["get", "pods", "-n", NS, "-l", PODS]);
    for p in pod["items"].as_array().expect("items") {
        let status = &p["status"]["containerStatuses"][0];
        assert_eq!(status["ready"], true, "{status}");
        assert_eq!(status["restartCount"], 0, "{status}");
    }
}

#[test]
fn kustomize_base_runs_two_ready_replicas() {
    let _s = serial();
    let n = cluster();
    let started = Instant::now();
    run_ok(n.kubectl_cmd().args(["apply", "-k", "deploy/kustomize"]));
    assert_two_ready(
        n,
        "bindery-system",
        "bindery",
        "app.kubernetes.io/name=bindery,bindery.dev/account=default",
    );
    figure(
        "kubectl apply -k to both replicas Ready (s)",
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    // Its Lease is taken: the operator runs on the base's RBAC.
    wait_for(PATIENCE, "the kustomize install's Lease", || {
        n.kubectl_status(&[
            "get",
            "lease",
            "bindery-default",
            "-n",
            "bindery-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .is_ok_and(|h| h.starts_with("bindery-"))
    });
    // Not the CRD (the other tests' BoundEndpoints live on it): the
    // namespace and the base's cluster-wide RBAC.
    n.kubectl(&["delete", "namespace", "bindery-system", "--wait=false"]);
    n.kubectl(&["delete", "clusterrole,clusterrolebinding", "bindery"]);
}

/// The upstreams (servers in the node's namespace) and the BoundEndpoints.
struct Fixture {
    rgw: Vec<HttpUpstream>,
    db: TcpUpstream,
}

fn boundendpoint(name: &str, url: &str, upstreams: &[String]) -> String {
    let list: Vec<String> = upstreams
        .iter()
        .map(|a| format!("{{address: \"{a}\"}}"))
        .collect();
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  url: {url}\n  account: {ACCOUNT}\n  upstreams: [{}]\n---\n",
        list.join(", ")
    )
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let n = release();
        for ns in ["storage", "billing", CLIENTS] {
            n.namespace(ns);
        }
        let rgw: Vec<HttpUpstream> = (0..3).map(|i| n.http_upstream(&format!("rgw-{i}"))).collect();
        let db = n.tcp_upstream("db-0");
        // The database by a DNS name the forwarder resolves through CoreDNS
        // (a Service without selector whose endpoint is the server).
        n.apply(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: db-upstream, namespace: {CLIENTS}}}\nspec:\n  ports: [{{port: 5432, targetPort: {port}}}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: db-upstream-1\n  namespace: {CLIENTS}\n  labels: {{kubernetes.io/service-name: db-upstream}}\naddressType: IPv4\nports: [{{port: {port}, protocol: TCP}}]\nendpoints: [{{addresses: [\"{ip}\"]}}]\n",
            port = db.addr.port(),
            ip = n.node_ip
        ));
        let addrs: Vec<String> = rgw.iter().map(|u| u.addr.to_string()).collect();
        n.apply(&(boundendpoint("rgw", RGW, &addrs)
            + &boundendpoint(
                "orders-db",
                DB,
                &[format!("db-upstream.{CLIENTS}.svc.cluster.local:5432")],
            )));
        for name in ["rgw", "orders-db"] {
            n.kubectl(&[
                "wait",
                "-n",
                NS,
                "--for=condition=Ready",
                &format!("boundendpoint/{name}"),
                "--timeout=180s",
            ]);
        }
        n.client_pod(CLIENTS, "client");
        Fixture { rgw, db }
    })
}

/// The upstream Service of `url`: its ClusterIP address and the
/// forwarder's port (its targetPort).
fn upstream_service(n: &Node, url: &str) -> (SocketAddr, u16) {
    let list = n.upstream_services(NS, ACCOUNT, url);
    let svc = list
        .first()
        .unwrap_or_else(|| panic!("no upstream Service for {url}: {list:?}"));
    let ip: Ipv4Addr = svc["spec"]["clusterIP"]
        .as_str()
        .expect("clusterIP")
        .parse()
        .unwrap();
    let port = &svc["spec"]["ports"][0];
    (
        SocketAddr::from((ip, port["port"].as_u64().expect("port") as u16)),
        port["targetPort"].as_u64().expect("targetPort") as u16,
    )
}

#[test]
fn client_pod_reaches_both_endpoints_by_name() {
    let _s = serial();
    let n = release();
    let f = fixture();
    let before: Vec<usize> = f
        .rgw
        .iter()
        .map(|u| u.hits.load(std::sync::atomic::Ordering::SeqCst))
        .collect();
    // Twelve requests over the two replicas: one of them gets at least six,
    // and round-robin gives each upstream its turn.
    let out = n
        .exec(
            CLIENTS,
            "client",
            &[
                "sh",
                "-c",
                // busybox 1.35's `wget -T` crashes: timeout(1) instead.
                "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do timeout 10 wget -q -O - http://rgw.storage:7480/ || echo FAILED; echo; done",
            ],
        )
        .unwrap_or_else(|e| panic!("wget from the client pod: {e}"));
    let mut bodies: BTreeMap<&str, usize> = BTreeMap::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        *bodies.entry(line).or_default() += 1;
    }
    assert_eq!(
        bodies.keys().copied().collect::<Vec<_>>(),
        ["rgw-0", "rgw-1", "rgw-2"],
        "answers by body: {bodies:?}"
    );
    let after: Vec<usize> = f
        .rgw
        .iter()
        .map(|u| u.hits.load(std::sync::atomic::Ordering::SeqCst))
        .collect();
    let served: usize = after.iter().zip(&before).map(|(a, b)| a - b).sum();
    assert_eq!(served, 12, "the upstreams answered {served} of 12");

    // The database through the name its upstream has in CoreDNS.
    let accepted = f.db.accepted.load(std::sync::atomic::Ordering::SeqCst);
    let out = n
        .exec(
            CLIENTS,
            "client",
            &["sh", "-c", "echo hello | nc -w 3 orders-db.billing 5432"],
        )
        .unwrap_or_else(|e| panic!("nc from the client pod: {e}"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["db-0", "hello"],
        "{out:?}"
    );
    assert_eq!(
        f.db.accepted.load(std::sync::atomic::Ordering::SeqCst),
        accepted + 1
    );
}

/// Which upstreams answered six requests of one user sent straight to a
/// forwarder pod (new connection each).
fn upstreams_for_one_user(n: &Node, pod: Ipv4Addr, port: u16) -> BTreeSet<String> {
    n.in_netns(|| {
        (0..6)
            .filter_map(|_| {
                get_once(
                    SocketAddr::from((pod, port)),
                    "rgw.storage:7480",
                    &[("x-user", "alice")],
                    Duration::from_secs(5),
                )
                .ok()
                .filter(|(status, _)| *status == 200)
                .map(|(_, body)| body)
            })
            .collect()
    })
}

/// Set the release's policy.yaml with kubectl, and how long until every
/// replica routes one user to `hashed` (true: one upstream; false: all
/// three).
fn change_policy(n: &Node, router: &str, hashed: bool, limit: Duration) -> Duration {
    let pods = n.ready_pod_ips(NS, PODS);
    assert_eq!(pods.len(), 2, "{pods:?}");
    let (_, port) = upstream_service(n, RGW);
    let patch = serde_json::json!({"data": {"policy.yaml": policy(router)}}).to_string();
    let started = Instant::now();
    n.kubectl(&[
        "patch",
        "configmap",
        &format!("{RELEASE}-policy"),
        "-n",
        NS,
        "--type=merge",
        "-p",
        &patch,
    ]);
    let mut done = BTreeSet::new();
    while done.len() < pods.len() {
        assert!(
            started.elapsed() < limit,
            "router {router} not in effect on {:?} after {limit:?}",
            pods.iter()
                .filter(|(name, _)| !done.contains(name))
                .collect::<Vec<_>>()
        );
        for (name, ip) in &pods {
            let seen = upstreams_for_one_user(n, *ip, port).len();
            let now = if hashed { seen == 1 } else { seen == 3 };
            if !done.contains(name) && now {
                done.insert(name.clone());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

/// `bindery_reload_failed_total` of a replica (its admin port, from the
/// node's namespace).
fn reload_failures(n: &Node, pod: Ipv4Addr) -> f64 {
    n.in_netns(|| {
        let Ok(s) = std::net::TcpStream::connect_timeout(
            &SocketAddr::from((pod, 9090)),
            Duration::from_secs(2),
        ) else {
            return 0.0;
        };
        let Ok((200, body)) = support::forward::http_get_on(s, "admin", "/metrics", &[]) else {
            return 0.0;
        };
        body.lines()
            .find_map(|l| {
                l.strip_prefix("bindery_reload_failed_total ")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    })
}

/// A broken policy: refused by every replica (its failure counted and a
/// Warning Event regarding `regarding`: the ConfigMap it watches, or the
/// pod that reads the volume), the previous router still in effect. How
/// long until all refused.
fn refuse_broken(n: &Node, limit: Duration, hashed_before: bool, regarding: &str) -> Duration {
    let pods = n.ready_pod_ips(NS, PODS);
    let before: Vec<f64> = pods.iter().map(|(_, ip)| reload_failures(n, *ip)).collect();
    let patch = serde_json::json!({"data": {"policy.yaml": policy(BROKEN)}}).to_string();
    let started = Instant::now();
    n.kubectl(&[
        "patch",
        "configmap",
        &format!("{RELEASE}-policy"),
        "-n",
        NS,
        "--type=merge",
        "-p",
        &patch,
    ]);
    wait_for(limit, "every replica to refuse the broken policy", || {
        pods.iter()
            .zip(&before)
            .all(|((_, ip), b)| reload_failures(n, *ip) > *b)
    });
    let took = started.elapsed();
    let (_, port) = upstream_service(n, RGW);
    for (name, ip) in &pods {
        assert_eq!(
            upstreams_for_one_user(n, *ip, port).len() == 1,
            hashed_before,
            "{name}: the previous router is no longer in effect after a broken policy"
        );
    }
    let events = n.kubectl(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "reason=ReloadFailed",
        "-o",
        "jsonpath={range .items[*]}{.involvedObject.kind} {.message}{\"\\n\"}{end}",
    ]);
    assert!(
        events
            .lines()
            .any(|l| l.starts_with(&format!("{regarding} ")) && l.contains("bogus")),
        "no ReloadFailed Event regarding a {regarding} naming the bad field: {events:?}"
    );
    took
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

#[test]
fn policy_changes_take_effect_and_a_broken_one_is_refused() {
    let _s = serial();
    let n = release();
    fixture();
    // Through the API watch (--watch-configmap, the chart's default).
    let t = change_policy(n, BY_USER, true, Duration::from_secs(60));
    figure(
        "reload via the API watch, to effect on both replicas (s)",
        secs(t),
    );
    let t = refuse_broken(n, Duration::from_secs(60), true, "ConfigMap");
    figure(
        "broken policy via the API watch, refused by both replicas (s)",
        secs(t),
    );
    let t = change_policy(n, ROUND_ROBIN, false, Duration::from_secs(60));
    figure("reload back via the API watch, to effect (s)", secs(t));

    // Through the kubelet's update of the mounted volume (--policy).
    run_ok(
        helm()
            .args(["upgrade", RELEASE, "deploy/helm/bindery", "--reuse-values"])
            .args(helm_args(n, &["--set", "watchConfigMaps=false"])),
    );
    assert_two_ready(n, NS, RELEASE, PODS);
    let t = change_policy(n, BY_USER, true, KUBELET_SYNC);
    figure(
        "reload via the kubelet's volume, to effect on both replicas (s)",
        secs(t),
    );
    let t = refuse_broken(n, KUBELET_SYNC, true, "Pod");
    figure(
        "broken policy via the kubelet's volume, refused by both replicas (s)",
        secs(t),
    );
    let t = change_policy(n, ROUND_ROBIN, false, KUBELET_SYNC);
    figure(
        "reload back via the kubelet's volume, to effect (s)",
        secs(t),
    );
    run_ok(
        helm()
            .args(["upgrade", RELEASE, "deploy/helm/bindery", "--reuse-values"])
            .args(helm_args(n, &["--set", "watchConfigMaps=true"])),
    );
    assert_two_ready(n, NS, RELEASE, PODS);
}

fn lease_holder(n: &Node) -> String {
    n.kubectl_status(&[
        "get",
        "lease",
        LEASE,
        "-n",
        NS,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])
    .unwrap_or_default()
}

/// Requests through the rgw upstream Service's ClusterIP (kube-proxy), from
/// the node's namespace: 4 threads on new connections, 4 on keep-alive.
fn load(n: &Node) -> Load {
    let (svc, _) = upstream_service(n, RGW);
    let load = Load::start(n, svc, "rgw.storage:7480", 4, 4);
    wait_for(Duration::from_secs(30), "the load's first answers", || {
        load.snapshot().ok > 50
    });
    load
}

#[test]
fn rollout_restart_under_load_fails_no_request() {
    let _s = serial();
    let n = release();
    fixture();
    assert_two_ready(n, NS, RELEASE, PODS);
    let before: BTreeSet<String> = n.ready_pod_ips(NS, PODS).into_iter().map(|p| p.0).collect();
    let load = load(n);
    let started = Instant::now();
    n.kubectl(&[
        "rollout",
        "restart",
        &format!("deployment/{RELEASE}"),
        "-n",
        NS,
    ]);
    n.kubectl(&[
        "rollout",
        "status",
        &format!("deployment/{RELEASE}"),
        "-n",
        NS,
        "--timeout=300s",
    ]);
    // Until the old pods are gone (their drain ends), then some more.
    wait_for(PATIENCE, "the old pods to be gone", || {
        let pods = n.kubectl(&[
            "get",
            "pods",
            "-n",
            NS,
            "-l",
            PODS,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        pods.split_whitespace().all(|p| !before.contains(p))
    });
    let rollout = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let stats = load.stop();
    figure("rollout restart, old pods gone (s)", secs(rollout));
    figure(
        "rollout restart under load: requests ok / failed / keep-alive retries",
        format!("{} / {} / {}", stats.ok, stats.failed, stats.retried),
    );
    assert_eq!(
        stats.failed, 0,
        "requests failed during the rollout: {:?}",
        stats.failures
    );
    assert_eq!(stats.bodies.len(), 3, "{:?}", stats.bodies);
}

#[test]
fn forced_deletion_of_the_lease_holder_moves_the_lease() {
    let _s = serial();
    let n = release();
    fixture();
    assert_two_ready(n, NS, RELEASE, PODS);
    let holder = lease_holder(n);
    assert!(!holder.is_empty(), "no Lease holder");
    let load = load(n);
    let deleted_at = load.elapsed();
    let started = Instant::now();
    n.kubectl(&[
        "delete",
        "pod",
        &holder,
        "-n",
        NS,
        "--grace-period=0",
        "--force",
        "--wait=false",
    ]);
    let moved = timed(PATIENCE, "the Lease to move", || {
        let h = lease_holder(n);
        !h.is_empty() && h != holder
    });
    // Reconciliation goes on: a new endpoint gets its Services.
    let f = fixture();
    n.apply(&boundendpoint(
        "rgw-after",
        "http://rgw-after.storage:7480",
        &[f.rgw[0].addr.to_string()],
    ));
    n.kubectl(&[
        "wait",
        "-n",
        NS,
        "--for=condition=Ready",
        "boundendpoint/rgw-after",
        "--timeout=180s",
    ]);
    let reconciled = started.elapsed();
    assert_two_ready(n, NS, RELEASE, PODS);
    let replaced = started.elapsed();
    // Recovered: a quiet stretch with no failure at the end.
    wait_for(PATIENCE, "five seconds without a failed request", || {
        let s = load.snapshot();
        load.elapsed() - s.last_failure.unwrap_or(deleted_at).max(deleted_at) > 5.0
    });
    let stats = load.stop();
    n.kubectl(&["delete", "boundendpoint", "rgw-after", "-n", NS]);
    let recovered = stats
        .last_failure
        .map(|t| (t - deleted_at).max(0.0))
        .unwrap_or(0.0);
    figure("forced deletion: Lease moved after (s)", secs(moved));
    figure(
        "forced deletion: new endpoint Ready after (s)",
        secs(reconciled),
    );
    figure(
        "forced deletion: replacement replica Ready after (s)",
        secs(replaced),
    );
    figure(
        "forced deletion under load: requests ok / failed / keep-alive retries",
        format!("{} / {} / {}", stats.ok, stats.failed, stats.retried),
    );
    figure(
        "forced deletion: last failed request after (s)",
        format!("{recovered:.2}"),
    );
    if !stats.failures.is_empty() {
        eprintln!("forced deletion, first failures: {:?}", stats.failures);
    }
}
