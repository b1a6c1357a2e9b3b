//! Direct mode through a real kube-proxy: kube-proxy (iptables mode) and
//! `bindery run` in a network namespace the test makes ("the node"), the
//! upstream servers in another, joined by a veth pair with private
//! addresses; the apiserver (testenv, on the machine's loopback) reached
//! through a relay. Clients connect from the node's namespace to the
//! Service's ClusterIP, so every connection is DNATed by kube-proxy's rules
//! as a pod's would be. No rule is ever added to the machine's own
//! namespace: the test checks `iptables-save` there is unchanged.
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::cluster::{Cluster, Operator, cluster};
use support::kube_proxy::{UP_PORT, dnat, ip4, node, root_iptables};
use support::netns::{Netns, NsServer, who};
use support::wait_for;

const LIMIT: Duration = Duration::from_secs(60);
const OP: &str = "dm-op";
const APPS: &str = "dm-apps";
const ACCOUNT: &str = "dm";
/// The Service's port (the URL's).
const SVC_PORT: u16 = 80;
const NAME: &str = "rgw.bindery.test";

fn policy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "account: {ACCOUNT}
ports: {{first: 23000, last: 23099}}
forwarding:
  resolveSeconds: 1
  healthCheck: {{type: tcp, intervalSeconds: 1, timeoutMs: 300, unhealthyAfter: 1, healthyAfter: 1}}
"
    );
    std::fs::write(dir.path().join("policy.yaml"), text).expect("policy");
    dir
}

fn endpoint(mode: &str) -> String {
    format!(
        "apiVersion: bindery.dev/v1alpha1
kind: BoundEndpoint
metadata: {{name: ceph, namespace: {OP}}}
spec:
  url: tcp://ceph.{APPS}:{SVC_PORT}
  account: {ACCOUNT}
  mode: {mode}
  upstreams:
  - {{address: \"10.77.0.2:{UP_PORT}\"}}
  - {{address: \"10.77.0.3:{UP_PORT}\"}}
  - {{address: \"10.77.0.4:{UP_PORT}\"}}
  - {{address: \"{NAME}:{UP_PORT}\"}}
"
    )
}

fn hosts(n: &Netns, last: u8) {
    std::fs::create_dir_all(n.etc()).expect("/etc/netns");
    // Written in place: `ip netns exec` bind-mounted this very file.
    std::fs::write(
        n.etc().join("hosts"),
        format!("127.0.0.1 localhost\n10.77.0.{last} {NAME}\n"),
    )
    .expect("hosts");
}

fn ready(c: &Cluster) -> String {
    let path = r#"{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}"#;
    c.get("boundendpoint", OP, "ceph", path).unwrap_or_default()
}

/// `address ready` of each endpoint of the Service's slices.
fn listed(c: &Cluster) -> BTreeMap<String, String> {
    let out = c
        .kubectl_status(&[
            "get",
            "endpointslices",
            "-n",
            APPS,
            "-l",
            "kubernetes.io/service-name=ceph",
            "-o",
            r#"jsonpath={range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{"\n"}{end}"#,
        ])
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect()
}

fn cluster_ip(c: &Cluster) -> Option<SocketAddr> {
    let ip = c.get("svc", APPS, "ceph", "{.spec.clusterIP}")?;
    Some(SocketAddr::new(ip.parse().ok()?, SVC_PORT))
}

/// `n` connections from the node: answers by upstream, and failures.
fn spread(n: &Netns, to: SocketAddr, count: usize) -> (BTreeMap<String, usize>, usize) {
    n.enter(move || {
        let mut by = BTreeMap::new();
        let mut failed = 0;
        for _ in 0..count {
            match who(to, Duration::from_secs(2)) {
                Ok(a) => *by.entry(a).or_insert(0) += 1,
                Err(_) => failed += 1,
            }
        }
        (by, failed)
    })
}

/// Each attempt's time and answer (the upstream's address, or the error).
type Attempts = Vec<(Instant, Result<String, String>)>;

/// A client in the node connecting again and again until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Attempts>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(n: &Netns, to: Arc<Mutex<Option<SocketAddr>>>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (stop.clone(), log.clone());
        let thread = n.spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let target = *to.lock().expect("target");
                let r = match target {
                    Some(t) => who(t, Duration::from_secs(1)).map_err(|e| e.to_string()),
                    None => Err("no ClusterIP".to_string()),
                };
                l.lock().expect("log").push((Instant::now(), r));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Load {
            stop,
            log,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Attempts {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.log.lock().expect("log"))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[test]
fn direct_mode_through_a_real_kube_proxy() {
    let before = root_iptables();
    let c = cluster("direct");
    c.namespace(OP);
    c.namespace(APPS);
    let n = node(c);
    hosts(&n.node, 5);
    let mut servers: BTreeMap<u8, NsServer> = [2, 3, 4, 5, 6]
        .into_iter()
        .map(|i| (i, NsServer::start(&n.up, SocketAddr::new(ip4(i), UP_PORT))))
        .collect();

    c.apply(&endpoint("direct"));
    let pol = policy();
    let p = pol.path().to_str().expect("utf-8").to_string();
    let args = [
        "--operator-namespace",
        OP,
        "--policy",
        &p,
        "--listen",
        "127.0.0.1",
        "--resync-seconds",
        "2",
        "--lease-seconds",
        "3",
    ];
    let mut operator = Operator::start_with(
        c,
        n.node
            .exec(std::path::Path::new(env!("CARGO_BIN_EXE_bindery"))),
        &n.kubeconfig,
        "dm-0",
        &args,
    );

    // 1. The projection: a selector-less ClusterIP Service, slices owned by
    // Bindery listing the four upstreams (the name as its address).
    wait_for(LIMIT, "ceph Ready", || ready(c) == "True Projected");
    let svc = |p: &str| c.get("svc", APPS, "ceph", p).unwrap_or_default();
    assert_eq!(svc("{.spec.type}"), "ClusterIP");
    assert_eq!(svc("{.spec.selector}"), "");
    assert_eq!(
        svc("{.metadata.labels.app\\.kubernetes\\.io/managed-by}"),
        "bindery"
    );
    let want: BTreeMap<String, String> = [2, 3, 4, 5]
        .into_iter()
        .map(|i| (ip4(i).to_string(), "true".to_string()))
        .collect();
    wait_for(LIMIT, "four endpoints listed ready", || listed(c) == want);
    let managed = c.kubectl(&[
        "get",
        "endpointslices",
        "-n",
        APPS,
        "-l",
        "kubernetes.io/service-name=ceph",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.labels.endpointslice\.kubernetes\.io/managed-by} {.metadata.labels.bindery\.dev/account}{"\n"}{end}"#,
    ]);
    assert!(
        managed
            .lines()
            .all(|l| l == format!("bindery.dev {ACCOUNT}")),
        "{managed}"
    );
    assert_eq!(
        c.get("boundendpoint", OP, "ceph", "{.status.endpoints}")
            .unwrap_or_default(),
        "4/4"
    );

    // Spread: kube-proxy balances over all four upstreams.
    let to = cluster_ip(c).expect("ClusterIP");
    wait_for(LIMIT, "kube-proxy has the four endpoints", || {
        [2, 3, 4, 5].iter().all(|i| dnat(&n.node, *i))
    });
    let (by, failed) = spread(&n.node, to, 200);
    assert_eq!(failed, 0, "{by:?}");
    assert_eq!(by.len(), 4, "every upstream answers: {by:?}");
    assert!(by.values().all(|k| *k >= 10), "spread: {by:?}");

    // 2. One upstream killed: marked not ready by the health check, then
    // no failed new connection once kube-proxy dropped it.
    let target = Arc::new(Mutex::new(Some(to)));
    let load = Load::start(&n.node, target.clone());
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    servers.remove(&2);
    wait_for(LIMIT, "10.77.0.2 not ready in its slice", || {
        listed(c).get("10.77.0.2").map(String::as_str) == Some("false")
    });
    let marked = killed.elapsed();
    wait_for(LIMIT, "kube-proxy dropped 10.77.0.2", || !dnat(&n.node, 2));
    let synced = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let log = load.finish();
    let failures: Vec<Instant> = log
        .iter()
        .filter(|(t, r)| *t >= killed && r.is_err())
        .map(|(t, _)| *t)
        .collect();
    let after: Vec<&(Instant, Result<String, String>)> =
        log.iter().filter(|(t, _)| *t > synced).collect();
    let failed_after = after.iter().filter(|(_, r)| r.is_err()).count();
    eprintln!(
        "one upstream killed: marked not ready after {}, kube-proxy synced after {}, {} failed new connections in between (last {} after the kill), {} of {} after",
        secs(marked),
        secs(synced - killed),
        failures.len(),
        failures
            .last()
            .map(|t| secs(*t - killed))
            .unwrap_or_else(|| "-".to_string()),
        failed_after,
        after.len()
    );
    assert_eq!(
        failed_after, 0,
        "failed new connections after kube-proxy synced"
    );
    assert!(
        after.len() > 20,
        "the client kept connecting: {}",
        after.len()
    );
    assert_eq!(
        c.get("boundendpoint", OP, "ceph", "{.status.endpoints}")
            .unwrap_or_default(),
        "3/4"
    );

    // 3. The name's address changes: the slice follows at resolveSeconds.
    hosts(&n.node, 6);
    wait_for(LIMIT, "the name's new address listed", || {
        let l = listed(c);
        l.contains_key("10.77.0.6") && !l.contains_key("10.77.0.5")
    });
    wait_for(LIMIT, "kube-proxy follows the name", || {
        dnat(&n.node, 6) && !dnat(&n.node, 5)
    });
    let (by, failed) = spread(&n.node, to, 100);
    assert_eq!(failed, 0, "{by:?}");
    assert!(
        by.contains_key("10.77.0.6") && !by.contains_key("10.77.0.5"),
        "{by:?}"
    );

    // 4. Every upstream down: Ready=False, and kube-proxy refuses at once.
    servers.clear();
    wait_for(LIMIT, "Ready False NoReadyEndpoints", || {
        ready(c) == "False NoReadyEndpoints"
    });
    wait_for(LIMIT, "kube-proxy has no endpoint", || {
        [3, 4, 6].iter().all(|i| !dnat(&n.node, *i))
    });
    let refused = n.node.enter(move || {
        let t = Instant::now();
        let r = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5));
        (r.map(|_| ()).map_err(|e| e.kind()), t.elapsed())
    });
    eprintln!(
        "all upstreams down: a new connection ends in {}",
        secs(refused.1)
    );
    assert_eq!(refused.0, Err(std::io::ErrorKind::ConnectionRefused));
    assert!(
        refused.1 < Duration::from_secs(1),
        "refused fast: {:?}",
        refused.1
    );

    // Back up.
    for i in [2, 3, 4, 6] {
        servers.insert(i, NsServer::start(&n.up, SocketAddr::new(ip4(i), UP_PORT)));
    }
    wait_for(LIMIT, "Ready again", || ready(c) == "True Projected");

    // 5. direct -> proxy: the Service turns ExternalName in place (never
    // deleted), the slices go, the upstream Service comes.
    let from = c.audit_len();
    c.apply(&endpoint("proxy"));
    wait_for(LIMIT, "ceph ExternalName", || {
        svc("{.spec.type}") == "ExternalName"
    });
    wait_for(LIMIT, "no slice left", || listed(c).is_empty());
    wait_for(LIMIT, "upstream Service", || {
        !c.services(OP, &format!("bindery.dev/account={ACCOUNT}"))
            .is_empty()
    });
    let writes = c.bindery_writes(from, &[APPS]);
    assert!(
        !writes.iter().any(|w| w.starts_with("delete services")),
        "the target Service is never deleted: {writes:?}"
    );

    // 6. proxy -> direct under client load: the slices before the Service
    // turns ClusterIP; measured: from the apply to the first answer, and no
    // failure after it.
    let from = c.audit_len();
    *target.lock().expect("target") = None;
    let load = Load::start(&n.node, target.clone());
    let switched = Instant::now();
    c.apply(&endpoint("direct"));
    wait_for(LIMIT, "ceph ClusterIP again", || match cluster_ip(c) {
        Some(a) => {
            *target.lock().expect("target") = Some(a);
            true
        }
        None => false,
    });
    wait_for(LIMIT, "an answer through the new ClusterIP", || {
        load.log
            .lock()
            .expect("log")
            .iter()
            .any(|(t, r)| *t > switched && r.is_ok())
    });
    std::thread::sleep(Duration::from_secs(2));
    let log = load.finish();
    let first = log
        .iter()
        .find(|(_, r)| r.is_ok())
        .map(|(t, _)| *t)
        .expect("an answer");
    let failed_after = log.iter().filter(|(t, r)| *t > first && r.is_err()).count();
    eprintln!(
        "proxy -> direct: first answer through the ClusterIP {} after the apply; {} failed of {} after it",
        secs(first - switched),
        failed_after,
        log.iter().filter(|(t, _)| *t > first).count()
    );
    assert_eq!(failed_after, 0);
    let writes = c.bindery_writes(from, &[APPS]);
    let slice_at = writes.iter().position(|w| w.contains("endpointslices"));
    let svc_at = writes
        .iter()
        .position(|w| w.ends_with(&format!("services {APPS}/ceph")));
    assert!(
        matches!((slice_at, svc_at), (Some(a), Some(b)) if a < b),
        "slices written before the Service turns ClusterIP: {writes:?}"
    );
    assert!(
        !writes.iter().any(|w| w.starts_with("delete services")),
        "{writes:?}"
    );
    wait_for(LIMIT, "the proxy-mode upstream Service removed", || {
        c.services(OP, &format!("bindery.dev/account={ACCOUNT}"))
            .is_empty()
    });

    operator.stop();
    drop(servers);
    drop(n);
    assert_eq!(
        root_iptables(),
        before,
        "the machine's own iptables rules changed"
    );
}

/// A direct BoundEndpoint `name` in `ns` for `tcp://<host>:80`.
fn direct_entry(ns: &str, name: &str, host: &str, account: &str, upstreams: &str) -> String {
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  url: tcp://{host}:80\n  account: {account}\n  mode: direct\n  upstreams: [{upstreams}]\n---\n"
    )
}

fn status(c: &Cluster, ns: &str, name: &str) -> (String, String) {
    let path = r#"{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}"#;
    let ready = c.get("boundendpoint", ns, name, path).unwrap_or_default();
    let message = c
        .get(
            "boundendpoint",
            ns,
            name,
            r#"{.status.conditions[?(@.type=="Ready")].message}"#,
        )
        .unwrap_or_default();
    (ready, message)
}

fn slices_of(c: &Cluster, ns: &str, service: &str) -> Vec<String> {
    c.kubectl(&[
        "get",
        "endpointslices",
        "-n",
        ns,
        "-l",
        &format!("kubernetes.io/service-name={service}"),
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ])
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

/// Direct mode's objects under proxy mode's rules, against the apiserver
/// (no kube-proxy needed, no traffic: no health check is set): a Service
/// or an EndpointSlice Bindery does not own is left alone and reported, a
/// missing namespace waits, an address a slice cannot hold is refused, an
/// ignored weight is said, orphans go, and two accounts keep apart.
#[test]
fn direct_mode_keeps_proxy_modes_safety() {
    let c = cluster("direct");
    let (op, op2, apps) = ("ds-op", "ds-op2", "ds-apps");
    for ns in [op, op2, apps] {
        c.namespace(ns);
    }
    // Someone else's Service, and someone else's slice named as Bindery
    // would name one of `slc`'s.
    c.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: taken, namespace: {apps}}}\nspec: {{ports: [{{port: 80}}]}}\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: slc-80-v4-9000-0\n  namespace: {apps}\n  labels: {{kubernetes.io/service-name: slc}}\naddressType: IPv4\nendpoints: [{{addresses: [10.9.9.9]}}]\nports: [{{name: theirs, port: 9000}}]\n"
    ));
    let up = "{address: \"10.1.2.3:9000\"}";
    let yaml = [
        direct_entry(op, "taken", &format!("taken.{apps}"), "ds", up),
        direct_entry(op, "slc", &format!("slc.{apps}"), "ds", up),
        direct_entry(op, "later", "later.ds-later", "ds", up),
        direct_entry(
            op,
            "loop",
            &format!("loop.{apps}"),
            "ds",
            "{address: \"127.0.0.1:9000\"}",
        ),
        direct_entry(
            op,
            "heavy",
            &format!("heavy.{apps}"),
            "ds",
            "{address: \"10.1.2.3:9000\", weight: 5}, {address: \"10.1.2.4:9000\"}",
        ),
        direct_entry(op, "mine", &format!("mine.{apps}"), "ds", up),
        direct_entry(op2, "theirs", &format!("theirs.{apps}"), "ds2", up),
    ]
    .concat();
    c.apply(&yaml);
    let policy = |account: &str, first: u16| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("policy.yaml"),
            format!(
                "account: {account}\nports: {{first: {first}, last: {}}}\n",
                first + 99
            ),
        )
        .expect("policy");
        dir
    };
    let (p1, p2) = (policy("ds", 23100), policy("ds2", 23200));
    let args = |ns: &'static str, p: &tempfile::TempDir| -> Vec<String> {
        [
            "--operator-namespace",
            ns,
            "--policy",
            p.path().to_str().expect("utf-8"),
            "--listen",
            "127.0.1.1",
            "--resync-seconds",
            "2",
            "--lease-seconds",
            "3",
        ]
        .map(str::to_string)
        .to_vec()
    };
    let a1 = args(op, &p1);
    let a2 = args(op2, &p2);
    let _one = Operator::start(
        c,
        "ds-0",
        &a1.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let _two = Operator::start(
        c,
        "ds2-0",
        &a2.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    wait_for(LIMIT, "mine Ready", || {
        status(c, op, "mine").0 == "True Projected"
    });
    wait_for(LIMIT, "theirs Ready", || {
        status(c, op2, "theirs").0 == "True Projected"
    });
    assert_eq!(slices_of(c, apps, "mine"), ["mine-80-v4-9000-0"]);
    assert_eq!(
        c.get(
            "endpointslice",
            apps,
            "mine-80-v4-9000-0",
            "{.metadata.labels.bindery\\.dev/account}"
        ),
        Some("ds".to_string())
    );
    assert_eq!(
        c.get(
            "endpointslice",
            apps,
            "theirs-80-v4-9000-0",
            "{.metadata.labels.bindery\\.dev/account}"
        ),
        Some("ds2".to_string())
    );

    // Conflicts: reported, and the objects left exactly as they were.
    wait_for(LIMIT, "taken Conflict", || {
        status(c, op, "taken").0 == "False Conflict"
    });
    assert_eq!(
        c.get("svc", apps, "taken", "{.metadata.labels}"),
        Some(String::new())
    );
    assert_eq!(slices_of(c, apps, "taken"), Vec::<String>::new());
    wait_for(LIMIT, "slc Conflict", || {
        status(c, op, "slc").0 == "False Conflict"
    });
    assert!(
        status(c, op, "slc")
            .1
            .contains("EndpointSlice ds-apps/slc-80-v4-9000-0"),
        "{:?}",
        status(c, op, "slc")
    );
    assert_eq!(
        c.get(
            "endpointslice",
            apps,
            "slc-80-v4-9000-0",
            "{.endpoints[0].addresses[0]} {.ports[0].name}"
        ),
        Some("10.9.9.9 theirs".to_string())
    );

    // Refused address, ignored weight.
    let (r, m) = status(c, op, "loop");
    assert_eq!(r, "False Invalid", "{m}");
    assert!(m.contains("loopback"), "{m}");
    wait_for(LIMIT, "heavy Ready", || {
        status(c, op, "heavy").0 == "True Projected"
    });
    let ignored = c
        .get(
            "boundendpoint",
            op,
            "heavy",
            r#"{.status.conditions[?(@.type=="SettingsIgnored")].status} {.status.conditions[?(@.type=="SettingsIgnored")].message}"#,
        )
        .unwrap_or_default();
    assert!(
        ignored.starts_with("True ") && ignored.contains("weight 5"),
        "{ignored}"
    );

    // Missing namespace: waits, then follows.
    wait_for(LIMIT, "later NamespaceMissing", || {
        status(c, op, "later").0 == "False NamespaceMissing"
    });
    c.namespace("ds-later");
    wait_for(LIMIT, "later Ready", || {
        status(c, op, "later").0 == "True Projected"
    });
    assert_eq!(slices_of(c, "ds-later", "later").len(), 1);

    // Orphans: deleting an entry removes its Service and slices, and only
    // its account's.
    c.kubectl(&["delete", "boundendpoint", "-n", op, "mine"]);
    wait_for(LIMIT, "mine's objects removed", || {
        c.get("svc", apps, "mine", "{.metadata.name}").is_none()
            && slices_of(c, apps, "mine").is_empty()
    });
    c.kubectl(&["delete", "boundendpoint", "-n", op2, "theirs"]);
    wait_for(LIMIT, "theirs' objects removed", || {
        c.get("svc", apps, "theirs", "{.metadata.name}").is_none()
            && slices_of(c, apps, "theirs").is_empty()
    });
    assert_eq!(
        c.get(
            "svc",
            apps,
            "heavy",
            "{.metadata.labels.bindery\\.dev/account}"
        ),
        Some("ds".to_string())
    );
    assert_eq!(slices_of(c, apps, "heavy").len(), 1);
    assert_eq!(
        c.get("svc", apps, "taken", "{.metadata.name}"),
        Some("taken".to_string())
    );
    assert_eq!(slices_of(c, apps, "slc"), ["slc-80-v4-9000-0"]);
}
