//! `bindery run` against a real kube-apiserver (testenv): Services applied
//! and served, Services not ours left alone, missing namespaces, orphans,
//! two accounts side by side, and a resync that writes nothing. Each test
//! has its own namespaces, account and listen address, so they run in
//! parallel on one apiserver.
mod support;

use std::time::Duration;

use support::cluster::{Cluster, Operator, cluster, op_args, policy};
use support::forward::{Server, line_echo, say};
use support::wait_for;

const LIMIT: Duration = Duration::from_secs(30);

fn testenv() -> &'static Cluster {
    cluster("reconcile")
}

/// The cluster with a test's operator and apps namespaces, and an echo
/// upstream answering `<prefix> <line>`.
fn setup(prefix: &str, op: &str, apps: &str) -> (&'static Cluster, String) {
    let c = testenv();
    c.namespace(op);
    c.namespace(apps);
    (c, Server::start(line_echo(prefix)).leak().to_string())
}

fn endpoint(
    ns: &str,
    name: &str,
    url: &str,
    account: &str,
    upstream: &str,
    labels: &str,
) -> String {
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  url: {url}\n  account: {account}\n  labels: {{{labels}}}\n  upstreams: [{{address: \"{upstream}\"}}]\n---\n"
    )
}

/// BoundEndpoints `e0`..`e{n-1}` in `ns`, for `<scheme>://e<i>.<apps>:<port + i>`.
fn numbered(
    ns: &str,
    n: u16,
    scheme: &str,
    apps: &str,
    port: u16,
    account: &str,
    upstream: &str,
) -> String {
    (0..n)
        .map(|i| {
            let url = format!("{scheme}://e{i}.{apps}:{}", port + i);
            endpoint(ns, &format!("e{i}"), &url, account, upstream, "")
        })
        .collect()
}

/// `status reason` of the Ready condition.
fn ready(c: &Cluster, ns: &str, name: &str) -> String {
    let path = r#"{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}"#;
    c.get("boundendpoint", ns, name, path).unwrap_or_default()
}

fn wait_ready(c: &Cluster, ns: &str, name: &str, want: &str) {
    wait_for(LIMIT, &format!("{ns}/{name} Ready {want}"), || {
        ready(c, ns, name) == want
    });
}

#[test]
fn projects_both_services_serves_them_and_kubectl_shows_ready() {
    let (op, apps) = ("p1-op", "p1-apps");
    let (c, up) = setup("p1", op, apps);
    c.apply(&endpoint(
        op,
        "web",
        "tcp://web.p1-apps:8080",
        "p1",
        &up.to_string(),
        "",
    ));
    let pol = policy("p1", 21000, "clusterDomain: example.internal\n");
    let operator = Operator::start(c, "p1-0", &op_args(op, &pol, "127.0.1.1"));
    wait_ready(c, op, "web", "True Projected");

    let upstreams = c.services(op, "bindery.dev/account=p1");
    assert_eq!(upstreams.len(), 1, "{upstreams:?}");
    let upstream = &upstreams[0];
    let get = |ns: &str, name: &str, p: &str| c.get("svc", ns, name, p).unwrap_or_default();
    assert_eq!(get(op, upstream, "{.spec.type}"), "ClusterIP");
    assert_eq!(
        get(op, upstream, "{.spec.ports[0].name} {.spec.ports[0].port}"),
        "tcp-8080 8080"
    );
    assert_eq!(
        get(op, upstream, "{.spec.selector}"),
        r#"{"app.kubernetes.io/name":"bindery","bindery.dev/account":"p1"}"#
    );
    let port: u16 = get(op, upstream, "{.spec.ports[0].targetPort}")
        .parse()
        .expect("targetPort");
    assert!((21000..=21099).contains(&port), "{port}");
    assert_eq!(get(apps, "web", "{.spec.type}"), "ExternalName");
    assert_eq!(
        get(apps, "web", "{.spec.externalName}"),
        format!("{upstream}.{op}.svc.example.internal")
    );
    for (ns, name) in [(op, upstream.as_str()), (apps, "web")] {
        assert_eq!(
            get(
                ns,
                name,
                r#"{.metadata.labels.app\.kubernetes\.io/managed-by} {.metadata.labels.bindery\.dev/account}"#
            ),
            "bindery p1"
        );
    }
    // Real bytes through the forwarder port the Service names.
    let addr = format!("127.0.1.1:{port}").parse().expect("addr");
    wait_for(LIMIT, "the forwarder to serve", || {
        say(addr, "hello").is_ok_and(|r| r == "p1 hello")
    });
    assert!(operator.ready(), "/readyz after the first pass");

    let table = c.kubectl(&["get", "boundendpoints", "-n", op]);
    let mut lines = table.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        head,
        ["NAME", "URL", "READY", "REASON", "MODE", "CLUSTERS", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..5],
        [
            "web",
            "tcp://web.p1-apps:8080",
            "True",
            "Projected",
            "proxy"
        ],
        "{table}"
    );
    let generation = c
        .get("boundendpoint", op, "web", "{.metadata.generation}")
        .unwrap_or_default();
    let observed = c
        .get(
            "boundendpoint",
            op,
            "web",
            r#"{.status.conditions[?(@.type=="ServicesApplied")].observedGeneration}"#,
        )
        .unwrap_or_default();
    assert_eq!(observed, generation);
}

#[test]
fn a_service_not_ours_is_never_touched_and_reported_as_a_conflict() {
    let c = testenv();
    let (op, apps) = ("c1-op", "c1-apps");
    c.namespace(op);
    c.namespace(apps);
    // A user's Service, and one of another Bindery account, in the way.
    c.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: mine, namespace: {apps}}}\nspec: {{type: ExternalName, externalName: example.org}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: theirs, namespace: {apps}, labels: {{app.kubernetes.io/managed-by: bindery, bindery.dev/account: other}}}}\nspec: {{type: ExternalName, externalName: example.net}}\n"
    ));
    let before = |n: &str| {
        c.get("svc", apps, n, "{.metadata.resourceVersion}")
            .expect("exists")
    };
    let (rv_mine, rv_theirs) = (before("mine"), before("theirs"));
    let up = Server::start(line_echo("c1")).leak().to_string();
    c.apply(
        &(endpoint(op, "mine", "tcp://mine.c1-apps:80", "c1", &up, "")
            + &endpoint(op, "theirs", "tcp://theirs.c1-apps:80", "c1", &up, "")),
    );
    let pol = policy("c1", 21100, "");
    let operator = Operator::start(c, "c1-0", &op_args(op, &pol, "127.0.1.2"));
    wait_ready(c, op, "mine", "False Conflict");
    wait_ready(c, op, "theirs", "False Conflict");
    let conflict = |n: &str| {
        c.get("boundendpoint", op, n, r#"{.status.conditions[?(@.type=="Conflict")].status} {.status.conditions[?(@.type=="Conflict")].message}"#)
            .unwrap_or_default()
    };
    assert!(
        conflict("mine")
            .starts_with("True Service c1-apps/mine exists and belongs to someone else"),
        "{}",
        conflict("mine")
    );
    assert!(
        conflict("theirs").contains("belongs to Bindery account \"other\""),
        "{}",
        conflict("theirs")
    );
    // Several passes later neither Service changed.
    operator.wait_passes(2);
    assert_eq!(before("mine"), rv_mine);
    assert_eq!(before("theirs"), rv_theirs);
    assert_eq!(
        c.get("svc", apps, "mine", "{.spec.externalName}")
            .as_deref(),
        Some("example.org")
    );
    assert!(operator.metric("bindery_reconcile_conflicts_total") >= 2.0);
    let events = c.kubectl(&[
        "get",
        "events.events.k8s.io",
        "-n",
        op,
        "-o",
        "jsonpath={range .items[*]}{.reason} {.regarding.name}{\"\\n\"}{end}",
    ]);
    assert!(events.lines().any(|l| l == "Conflict mine"), "{events}");
    assert!(events.lines().any(|l| l == "Conflict theirs"), "{events}");

    // Once the user's Service is gone, the projection follows.
    c.kubectl(&["delete", "svc", "-n", apps, "mine"]);
    wait_ready(c, op, "mine", "True Projected");
    assert_eq!(
        c.get("svc", apps, "mine", "{.spec.type}").as_deref(),
        Some("ExternalName")
    );
    assert_eq!(before("theirs"), rv_theirs);
}

#[test]
fn a_missing_namespace_is_a_condition_until_it_appears() {
    let c = testenv();
    let op = "n1-op";
    c.namespace(op);
    let up = Server::start(line_echo("n1")).leak().to_string();
    c.apply(&endpoint(
        op,
        "late",
        "tcp://late.n1-later:5432",
        "n1",
        &up,
        "",
    ));
    let pol = policy("n1", 21200, "");
    let _operator = Operator::start(c, "n1-0", &op_args(op, &pol, "127.0.1.3"));
    wait_ready(c, op, "late", "False NamespaceMissing");
    let message = c
        .get(
            "boundendpoint",
            op,
            "late",
            r#"{.status.conditions[?(@.type=="Ready")].message}"#,
        )
        .unwrap_or_default();
    assert!(
        message.contains("namespace n1-later does not exist; Bindery never creates namespaces"),
        "{message}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        c.kubectl_status(&["get", "ns", "n1-later"]).is_err(),
        "Bindery created the namespace"
    );
    c.namespace("n1-later");
    wait_ready(c, op, "late", "True Projected");
    assert_eq!(
        c.get("svc", "n1-later", "late", "{.spec.type}").as_deref(),
        Some("ExternalName")
    );
}

#[test]
fn orphans_are_deleted_both_services_idempotently() {
    let (op, apps) = ("o1-op", "o1-apps");
    let (c, up) = setup("o1", op, apps);
    let all = endpoint(
        op,
        "gone",
        "tcp://gone.o1-apps:80",
        "o1",
        &up,
        "keep: 'yes'",
    ) + &endpoint(
        op,
        "unselected",
        "tcp://unselected.o1-apps:80",
        "o1",
        &up,
        "keep: 'yes'",
    ) + &endpoint(
        op,
        "moved",
        "tcp://moved.o1-apps:80",
        "o1",
        &up,
        "keep: 'yes'",
    ) + &endpoint(
        op,
        "stays",
        "tcp://stays.o1-apps:80",
        "o1",
        &up,
        "keep: 'yes'",
    );
    c.apply(&all);
    let pol = policy(
        "o1",
        21300,
        "endpointSelectors: [\"endpoint.labels.keep == 'yes'\"]\n",
    );
    let operator = Operator::start(c, "o1-0", &op_args(op, &pol, "127.0.1.4"));
    for n in ["gone", "unselected", "moved", "stays"] {
        wait_ready(c, op, n, "True Projected");
    }
    let managed = "app.kubernetes.io/managed-by=bindery";
    assert_eq!(c.services(op, managed).len(), 4);
    assert_eq!(c.services(apps, managed).len(), 4);
    // One Service already removed by hand: its delete is a 404, not an error.
    c.kubectl(&["delete", "svc", "-n", apps, "gone"]);
    c.kubectl(&["delete", "boundendpoint", "-n", op, "gone"]);
    c.apply(
        &(endpoint(
            op,
            "unselected",
            "tcp://unselected.o1-apps:80",
            "o1",
            &up,
            "keep: 'no'",
        ) + &endpoint(
            op,
            "moved",
            "tcp://moved.o1-apps:80",
            "another",
            &up,
            "keep: 'yes'",
        )),
    );
    wait_for(LIMIT, "the orphans' Services to go", || {
        c.services(apps, managed) == ["stays"] && c.services(op, managed).len() == 1
    });
    wait_ready(c, op, "unselected", "False NotSelected");
    assert_eq!(ready(c, op, "stays"), "True Projected");
    // The object of another account is not ours to describe any more.
    operator.wait_passes(2);
    assert_eq!(
        ready(c, op, "moved"),
        "True Projected",
        "status of another account's object was rewritten"
    );
    assert_eq!(operator.metric("bindery_reconcile_failed_total"), 0.0);
    assert!(operator.metric("bindery_reconcile_deletes_total") >= 5.0);
}

#[test]
fn two_accounts_in_one_cluster_never_touch_each_others_services() {
    let (op, apps) = ("a2-op", "a2-apps");
    let (c, up) = setup("a2", op, apps);
    c.apply(
        &(endpoint(op, "red", "tcp://red.a2-apps:80", "red", &up, "")
            + &endpoint(op, "blue", "tcp://blue.a2-apps:80", "blue", &up, "")
            + &endpoint(op, "same-red", "tcp://same.a2-apps:80", "red", &up, "")),
    );
    let (pr, pb) = (policy("red", 21400, ""), policy("blue", 21400, ""));
    let mut red = Operator::start(c, "red-0", &op_args(op, &pr, "127.0.1.5"));
    let blue = Operator::start(c, "blue-0", &op_args(op, &pb, "127.0.1.6"));
    wait_ready(c, op, "red", "True Projected");
    wait_ready(c, op, "blue", "True Projected");
    wait_ready(c, op, "same-red", "True Projected");
    // The same URL in the other account: red holds the Service, blue reports.
    c.apply(&endpoint(
        op,
        "same-blue",
        "tcp://same.a2-apps:80",
        "blue",
        &up,
        "",
    ));
    wait_ready(c, op, "same-blue", "False Conflict");
    let account = |n: &str| {
        c.get("svc", apps, n, r#"{.metadata.labels.bindery\.dev/account}"#)
            .unwrap_or_default()
    };
    assert_eq!(
        (account("red"), account("blue"), account("same")),
        ("red".into(), "blue".into(), "red".into())
    );
    assert_eq!(c.services(op, "bindery.dev/account=red").len(), 2);
    assert_eq!(c.services(op, "bindery.dev/account=blue").len(), 2);
    // With red stopped, blue leaves red's Services alone even when red's
    // objects go away, and blue's own keep working.
    red.kill();
    let rv = c.get("svc", apps, "red", "{.metadata.resourceVersion}");
    c.kubectl(&["delete", "boundendpoint", "-n", op, "red"]);
    blue.wait_passes(2);
    assert_eq!(c.get("svc", apps, "red", "{.metadata.resourceVersion}"), rv);
    assert_eq!(ready(c, op, "blue"), "True Projected");
    assert_eq!(ready(c, op, "same-blue"), "False Conflict");
}

#[test]
fn a_resync_that_changes_nothing_writes_nothing() {
    let (op, apps) = ("r1-op", "r1-apps");
    let (c, up) = setup("r1", op, apps);
    c.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: taken, namespace: {apps}}}\nspec: {{type: ExternalName, externalName: example.org}}\n"
    ));
    let mut yaml = numbered(op, 20, "http", apps, 8000, "r1", &up);
    // A pool of two, a conflict, a missing namespace, an invalid URL and an
    // unselected endpoint: every kind of status stays put as well.
    yaml += &endpoint(op, "e0-twin", "http://e0.r1-apps:8000", "r1", &up, "");
    yaml += &endpoint(op, "taken", "tcp://taken.r1-apps:80", "r1", &up, "");
    yaml += &endpoint(op, "nowhere", "tcp://nowhere.r1-none:80", "r1", &up, "");
    yaml += &endpoint(op, "bad", "https://bad.r1-apps", "r1", &up, "");
    yaml += &endpoint(
        op,
        "skipped",
        "tcp://skipped.r1-apps:80",
        "r1",
        &up,
        "skip: 'yes'",
    );
    c.apply(&yaml);
    let pol = policy(
        "r1",
        21500,
        "endpointSelectors: [\"!('skip' in endpoint.labels)\"]\n",
    );
    let operator = Operator::start(c, "r1-0", &op_args(op, &pol, "127.0.1.7"));
    for i in 0..20 {
        wait_ready(c, op, &format!("e{i}"), "True Projected");
    }
    wait_ready(c, op, "taken", "False Conflict");
    wait_ready(c, op, "nowhere", "False NamespaceMissing");
    wait_ready(c, op, "bad", "False Invalid");
    wait_ready(c, op, "skipped", "False NotSelected");
    // Let the watch events of the last writes settle, then count.
    std::thread::sleep(Duration::from_secs(3));
    let from = c.audit_len();
    let applies = operator.metric("bindery_reconcile_applies_total");
    operator.wait_passes(3);
    let writes = c.bindery_writes(from, &[op, apps, "r1-none"]);
    assert!(writes.is_empty(), "a no-op resync wrote: {writes:#?}");
    assert_eq!(operator.metric("bindery_reconcile_applies_total"), applies);
    // The audit log does see Bindery's writes: the counting is not blind.
    let from = c.audit_len();
    c.kubectl(&["delete", "svc", "-n", apps, "e1"]);
    wait_ready(c, op, "e1", "True Projected");
    wait_for(LIMIT, "the re-created Service in the audit log", || {
        c.bindery_writes(from, &[apps])
            .iter()
            .any(|w| w == "patch services r1-apps/e1")
    });
}

fn lease_holder(c: &Cluster, op: &str, account: &str) -> String {
    c.get(
        "lease",
        op,
        &format!("bindery-{account}"),
        "{.spec.holderIdentity}",
    )
    .unwrap_or_default()
}

#[test]
fn ports_are_stable_across_restarts_and_replicas_and_only_the_leader_writes() {
    let (op, apps) = ("l1-op", "l1-apps");
    let (c, up) = setup("l1", op, apps);
    let yaml = numbered(op, 6, "tcp", apps, 7000, "l1", &up);
    c.apply(&yaml);
    let pol = policy("l1", 21600, "");
    let mut first = Operator::start(c, "l1-0", &op_args(op, &pol, "127.0.2.1"));
    for i in 0..6 {
        wait_ready(c, op, &format!("e{i}"), "True Projected");
    }
    assert_eq!(lease_holder(c, op, "l1"), "l1-0");
    let ports = c.allocation(op, "bindery.dev/account=l1");
    assert_eq!(ports.len(), 6);
    let distinct: std::collections::BTreeSet<u16> = ports.values().copied().collect();
    assert_eq!(distinct.len(), 6, "ports collide: {ports:?}");

    // A second replica learns the ports from the Services and serves them,
    // without writing anything.
    let mut second = Operator::start(c, "l1-1", &op_args(op, &pol, "127.0.2.2"));
    for port in ports.values() {
        let addr = format!("127.0.2.2:{port}").parse().expect("addr");
        wait_for(LIMIT, "the second replica to serve", || {
            say(addr, "hi").is_ok_and(|r| r == "l1 hi")
        });
    }
    assert_eq!(
        second.metric("bindery_reconcile_applies_total"),
        0.0,
        "a follower wrote"
    );

    // The leader dies without releasing: the second takes over once the
    // Lease expires, and new endpoints get new ports while old ones stay.
    first.kill();
    wait_for(LIMIT, "the second replica to take the Lease", || {
        lease_holder(c, op, "l1") == "l1-1"
    });
    c.apply(&endpoint(op, "e6", "tcp://e6.l1-apps:7006", "l1", &up, ""));
    wait_ready(c, op, "e6", "True Projected");
    let after = c.allocation(op, "bindery.dev/account=l1");
    assert_eq!(after.len(), 7);
    for (url, port) in &ports {
        assert_eq!(after.get(url), Some(port), "{url} moved");
    }
    let distinct: std::collections::BTreeSet<u16> = after.values().copied().collect();
    assert_eq!(distinct.len(), 7, "ports collide: {after:?}");

    // Restarted, the first follows; a graceful stop of the leader releases
    // the Lease and the first takes over; still no port moves.
    let mut first = Operator::start(c, "l1-0", &op_args(op, &pol, "127.0.2.1"));
    wait_for(LIMIT, "the restarted replica to be ready", || first.ready());
    second.stop();
    wait_for(LIMIT, "the first replica to take the Lease back", || {
        lease_holder(c, op, "l1") == "l1-0"
    });
    c.kubectl(&["delete", "boundendpoint", "-n", op, "e0"]);
    wait_for(LIMIT, "e0's Services to go", || {
        c.allocation(op, "bindery.dev/account=l1").len() == 6
    });
    let last = c.allocation(op, "bindery.dev/account=l1");
    for (url, port) in &last {
        assert_eq!(after.get(url), Some(port), "{url} moved");
    }
    let e6 = after
        .iter()
        .find(|(u, _)| u.contains("e6"))
        .map(|(_, p)| *p)
        .expect("e6");
    let addr = format!("127.0.2.1:{e6}").parse().expect("addr");
    wait_for(LIMIT, "the first replica to serve e6", || {
        say(addr, "x").is_ok_and(|r| r == "l1 x")
    });
    first.stop();
}

fn policy_configmap(ns: &str, policy: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "bindery-policy", "namespace": ns},
        "data": {"policy.yaml": policy},
    })
    .to_string()
}

#[test]
fn a_watched_configmap_policy_is_reloaded_and_a_bad_one_reported() {
    let (op, apps) = ("w1-op", "w1-apps");
    let (c, up) = setup("w1", op, apps);
    let base = "account: w1\nports: {first: 21700, last: 21799}\n";
    c.apply(&policy_configmap(
        op,
        &format!("{base}endpointSelectors: [\"endpoint.labels.tier == 'gold'\"]\n"),
    ));
    c.apply(
        &(endpoint(op, "gold", "tcp://gold.w1-apps:80", "w1", &up, "tier: gold")
            + &endpoint(
                op,
                "silver",
                "tcp://silver.w1-apps:80",
                "w1",
                &up,
                "tier: silver",
            )),
    );
    let operator = Operator::start(
        c,
        "w1-0",
        &[
            "--operator-namespace",
            op,
            "--watch-configmap",
            "bindery-policy",
            "--listen",
            "127.0.2.3",
            "--resync-seconds",
            "2",
            "--lease-seconds",
            "3",
        ],
    );
    wait_ready(c, op, "gold", "True Projected");
    wait_ready(c, op, "silver", "False NotSelected");

    c.apply(&policy_configmap(
        op,
        &format!("{base}endpointSelectors: [\"true\"]\n"),
    ));
    wait_ready(c, op, "silver", "True Projected");
    assert_eq!(operator.metric("bindery_reload_failed_total"), 0.0);

    c.apply(&policy_configmap(op, "account: [w1\n"));
    wait_for(LIMIT, "the failed reload to be counted", || {
        operator.metric("bindery_reload_failed_total") >= 1.0
    });
    let events = c.kubectl(&[
        "get",
        "events.events.k8s.io",
        "-n",
        op,
        "-o",
        "jsonpath={range .items[*]}{.reason} {.regarding.kind}/{.regarding.name}{\"\\n\"}{end}",
    ]);
    assert!(
        events
            .lines()
            .any(|l| l == "ReloadFailed ConfigMap/bindery-policy"),
        "{events}"
    );
    // The previous policy stays in effect.
    operator.wait_passes(2);
    assert_eq!(ready(c, op, "gold"), "True Projected");
    assert_eq!(ready(c, op, "silver"), "True Projected");
    assert_eq!(c.services(apps, "bindery.dev/account=w1").len(), 2);
}
