//! Many clusters, one catalog: a hub control plane holds the account's
//! `BoundEndpoint`s and two member control planes run `bindery run` against
//! it (`--hub-kubeconfig`), each with its own selectors, its own cluster
//! name and its own forwarder on loopback. Every control plane is a real
//! kube-apiserver with etcd (`testenv/start`, one state dir each). Each test
//! has its own hub namespace, account, operator namespace and listen
//! addresses, so they run in parallel; the outage test has a hub of its own.
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::cluster::{Cluster, Operator, another, op_args, policy};
use support::forward::{Server, line_echo, say};
use support::{repo_root, wait_for};

const LIMIT: Duration = Duration::from_secs(60);

struct Clusters {
    hub: Cluster,
    m1: Cluster,
    m2: Cluster,
}

/// The hub and the two members, started at once on first use.
fn clusters() -> &'static Clusters {
    static CLUSTERS: OnceLock<Clusters> = OnceLock::new();
    CLUSTERS.get_or_init(|| {
        std::thread::scope(|s| {
            let hub = s.spawn(|| another("hub"));
            let m1 = s.spawn(|| another("hub-m1"));
            let m2 = s.spawn(|| another("hub-m2"));
            Clusters {
                hub: hub.join().expect("hub"),
                m1: m1.join().expect("m1"),
                m2: m2.join().expect("m2"),
            }
        })
    })
}

fn endpoint(ns: &str, name: &str, url: &str, account: &str, upstream: &str, tier: &str) -> String {
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  url: {url}\n  account: {account}\n  labels: {{tier: {tier}}}\n  upstreams: [{{address: \"{upstream}\"}}]\n---\n"
    )
}

/// `bindery run` in `member`, taking its catalog from `hub`'s namespace
/// `hub_ns` alone, as cluster `name`, forwarding on `listen`.
fn member(
    member: &Cluster,
    hub: &Path,
    op: &str,
    pol: &tempfile::TempDir,
    listen: &str,
    hub_ns: &str,
    name: &str,
) -> Operator {
    member.namespace(op);
    let mut args = op_args(op, pol, listen);
    args.extend([
        "--no-local-catalog",
        "--hub-kubeconfig",
        hub.to_str().expect("utf-8 path"),
        "--hub-namespace",
        hub_ns,
        "--cluster-name",
        name,
        "--hub-lease-seconds",
        "6",
    ]);
    Operator::start(member, &format!("{hub_ns}-{name}"), &args)
}

/// Credentials on `hub` for member `name` as deploy/README.md makes them:
/// `deploy/hub/member.yaml` applied for it, and a kubeconfig holding a
/// token of its ServiceAccount.
fn member_kubeconfig(hub: &Cluster, hub_ns: &str, name: &str) -> PathBuf {
    let template = std::fs::read_to_string(repo_root().join("deploy/hub/member.yaml"))
        .expect("deploy/hub/member.yaml");
    hub.apply(
        &template
            .replace("MEMBER", name)
            .replace("HUB_NAMESPACE", hub_ns),
    );
    let token = hub.kubectl(&[
        "create",
        "token",
        "-n",
        hub_ns,
        &format!("bindery-member-{name}"),
        "--duration=2h",
    ]);
    let admin = std::fs::read_to_string(&hub.kubeconfig).expect("hub kubeconfig");
    let mut out = String::new();
    for line in admin.lines() {
        match line.trim_start().strip_prefix("token:") {
            Some(_) => out += &format!("    token: {}\n", token.trim()),
            None => out += &format!("{line}\n"),
        }
    }
    let path = hub.dir.join(format!("member-{hub_ns}-{name}.kubeconfig"));
    std::fs::write(&path, out).expect("member kubeconfig");
    path
}

/// The members' entries of a hub object: `cluster=ready/reason/gen` each,
/// sorted, and `status.clusterCount`.
fn entries(hub: &Cluster, ns: &str, name: &str) -> (Vec<String>, String) {
    let list = hub
        .get(
            "boundendpoint",
            ns,
            name,
            r#"{range .status.clusters[*]}{.cluster}={.ready}/{.reason}/{.observedGeneration}{"\n"}{end}"#,
        )
        .unwrap_or_default();
    let mut list: Vec<String> = list.lines().map(str::to_string).collect();
    list.sort();
    let count = hub
        .get("boundendpoint", ns, name, "{.status.clusterCount}")
        .unwrap_or_default();
    (list, count)
}

fn generation(c: &Cluster, ns: &str, name: &str) -> String {
    c.get("boundendpoint", ns, name, "{.metadata.generation}")
        .unwrap_or_default()
}

/// The sorted names of Bindery's Services in `ns`.
fn services(c: &Cluster, ns: &str) -> Vec<String> {
    let mut s = c.services(ns, "app.kubernetes.io/managed-by=bindery");
    s.sort();
    s
}

/// Where `listen` serves `url`, from the member's upstream Services.
fn served_at(c: &Cluster, op: &str, listen: &str, url: &str) -> Option<SocketAddr> {
    let port = *c
        .allocation(op, "app.kubernetes.io/managed-by=bindery")
        .get(url)?;
    format!("{listen}:{port}").parse().ok()
}

fn wait_says(c: &Cluster, op: &str, listen: &str, url: &str, line: &str, want: &str) {
    wait_for(
        LIMIT,
        &format!("{url} through {listen} to answer {want}"),
        || served_at(c, op, listen, url).is_some_and(|a| say(a, line).is_ok_and(|r| r == want)),
    );
}

/// The uid of a cluster's `kube-system` namespace: a member's identity on
/// the hub.
fn identity(c: &Cluster) -> String {
    c.get("namespace", "", "kube-system", "{.metadata.uid}")
        .expect("kube-system")
}

#[test]
fn members_project_by_their_own_selectors_follow_the_hub_and_report_their_own_entries() {
    let cs = clusters();
    let (hub, m1, m2) = (&cs.hub, &cs.m1, &cs.m2);
    let (hns, op, apps) = ("h1-hub", "h1-op", "h1-apps");
    hub.namespace(hns);
    m1.namespace(apps);
    m2.namespace(apps);
    let up = Server::start(line_echo("h1")).leak().to_string();
    hub.apply(
        &(endpoint(hns, "gold", "tcp://gold.h1-apps:80", "h1", &up, "gold")
            + &endpoint(
                hns,
                "silver",
                "tcp://silver.h1-apps:81",
                "h1",
                &up,
                "silver",
            )),
    );
    let gold_only = policy(
        "h1",
        23000,
        "endpointSelectors: [\"endpoint.labels.tier == 'gold'\"]\n",
    );
    let every = policy("h1", 23000, "");
    let (l1, l2) = ("127.0.5.1", "127.0.5.2");
    // On the least privilege deploy/hub/member.yaml grants.
    let (k1, k2) = (
        member_kubeconfig(hub, hns, "m1"),
        member_kubeconfig(hub, hns, "m2"),
    );
    let _a = member(m1, &k1, op, &gold_only, l1, hns, "m1");
    let _b = member(m2, &k2, op, &every, l2, hns, "m2");

    // Different selectors, different sets.
    wait_for(LIMIT, "m1 to project gold only", || {
        services(m1, apps) == ["gold"]
    });
    wait_for(LIMIT, "m2 to project gold and silver", || {
        services(m2, apps) == ["gold", "silver"]
    });
    wait_says(m1, op, l1, "tcp://gold.h1-apps:80", "hi", "h1 hi");
    wait_says(m2, op, l2, "tcp://silver.h1-apps:81", "hi", "h1 hi");
    assert!(
        served_at(m1, op, l1, "tcp://silver.h1-apps:81").is_none(),
        "m1 has no upstream Service for silver"
    );

    // Each member's entry on the hub, and the count.
    let g = generation(hub, hns, "gold");
    wait_for(LIMIT, "both entries of gold and of silver", || {
        entries(hub, hns, "gold")
            == (
                vec![
                    format!("m1=True/Projected/{g}"),
                    format!("m2=True/Projected/{g}"),
                ],
                "2".to_string(),
            )
            && entries(hub, hns, "silver")
                == (
                    vec![
                        format!("m1=False/NotSelected/{g}"),
                        format!("m2=True/Projected/{g}"),
                    ],
                    "1".to_string(),
                )
    });
    // One field manager per member, each owning its own entry only.
    let managed = hub.kubectl(&[
        "get",
        "boundendpoint",
        "-n",
        hns,
        "gold",
        "--show-managed-fields",
        "-o",
        "json",
    ]);
    let managed: serde_json::Value = serde_json::from_str(&managed).expect("json");
    for m in ["m1", "m2"] {
        let fields = managed["metadata"]["managedFields"]
            .as_array()
            .expect("managedFields")
            .iter()
            .find(|f| f["manager"] == format!("bindery-{m}") && f["subresource"] == "status")
            .unwrap_or_else(|| panic!("no status fields of bindery-{m}: {managed}"));
        let owned = fields["fieldsV1"]["f:status"]["f:clusters"].to_string();
        assert!(
            owned.contains(&format!("{{\\\"cluster\\\":\\\"{m}\\\"}}")),
            "bindery-{m} owns {owned}"
        );
        let other = if m == "m1" { "m2" } else { "m1" };
        assert!(
            !owned.contains(&format!("{{\\\"cluster\\\":\\\"{other}\\\"}}")),
            "bindery-{m} owns {other}'s entry too: {owned}"
        );
    }
    // The printer column counts the clusters.
    let table = hub.kubectl(&["get", "boundendpoints", "-n", hns]);
    // (READY and REASON are empty there: no operator runs on the hub.)
    let mut lines = table.lines();
    let at = lines
        .next()
        .and_then(|h| h.find("CLUSTERS"))
        .unwrap_or_else(|| panic!("no CLUSTERS column: {table}"));
    let rows: Vec<(&str, &str)> = lines
        .map(|l| {
            let name = l.split_whitespace().next().unwrap_or_default();
            let count = l.get(at..).and_then(|c| c.split_whitespace().next());
            (name, count.unwrap_or_default())
        })
        .collect();
    assert_eq!(rows, [("gold", "2"), ("silver", "1")], "{table}");

    // Created, changed and deleted on the hub: both members follow.
    let up2 = Server::start(line_echo("h1b")).leak().to_string();
    hub.apply(
        &(endpoint(hns, "gold", "tcp://gold.h1-apps:80", "h1", &up2, "gold")
            + &endpoint(hns, "bronze", "tcp://bronze.h1-apps:82", "h1", &up, "gold")),
    );
    hub.kubectl(&["delete", "boundendpoint", "-n", hns, "silver"]);
    wait_for(LIMIT, "bronze in both members, silver gone from m2", || {
        services(m1, apps) == ["bronze", "gold"] && services(m2, apps) == ["bronze", "gold"]
    });
    for (m, l) in [(m1, l1), (m2, l2)] {
        wait_says(m, op, l, "tcp://gold.h1-apps:80", "hey", "h1b hey");
        wait_says(m, op, l, "tcp://bronze.h1-apps:82", "hey", "h1 hey");
    }
    let g2 = generation(hub, hns, "gold");
    assert_ne!(g, g2, "the change bumped the generation");
    wait_for(LIMIT, "both entries of the changed gold", || {
        entries(hub, hns, "gold").0
            == [
                format!("m1=True/Projected/{g2}"),
                format!("m2=True/Projected/{g2}"),
            ]
    });
}

#[test]
fn two_members_given_one_cluster_name_are_reported_and_do_not_fight() {
    let cs = clusters();
    let (hub, m1, m2) = (&cs.hub, &cs.m1, &cs.m2);
    let (hns, op, apps) = ("h2-hub", "h2-op", "h2-apps");
    hub.namespace(hns);
    m1.namespace(apps);
    m2.namespace(apps);
    let up = Server::start(line_echo("h2")).leak().to_string();
    hub.apply(&endpoint(
        hns,
        "web",
        "tcp://web.h2-apps:80",
        "h2",
        &up,
        "gold",
    ));
    let pol = policy("h2", 23200, "");
    let (id1, id2) = (identity(m1), identity(m2));
    assert_ne!(id1, id2);
    let member_of = || {
        hub.get(
            "boundendpoint",
            hns,
            "web",
            r#"{.status.clusters[?(@.cluster=="twin")].member}"#,
        )
        .unwrap_or_default()
    };
    let mut first = member(m1, &hub.kubeconfig, op, &pol, "127.0.5.3", hns, "twin");
    wait_for(LIMIT, "the first twin's entry", || member_of() == id1);

    let second = member(m2, &hub.kubeconfig, op, &pol, "127.0.5.4", hns, "twin");
    // The second projects locally as any member does...
    wait_for(LIMIT, "the second twin to project", || {
        services(m2, apps) == ["web"]
    });
    // ... and reports the clash instead of writing on the hub.
    wait_for(LIMIT, "a DuplicateClusterName Event in the second", || {
        m2.kubectl(&[
            "get",
            "events",
            "-n",
            op,
            "--field-selector",
            "reason=DuplicateClusterName",
            "-o",
            "name",
        ])
        .lines()
        .count()
            == 1
    });
    let event = m2.kubectl(&[
        "get",
        "events",
        "-n",
        op,
        "--field-selector",
        "reason=DuplicateClusterName",
        "-o",
        "jsonpath={.items[0].note}{.items[0].message}",
    ]);
    assert!(
        event.contains("\"twin\"") && event.contains(&id1) && event.contains("--cluster-name"),
        "{event}"
    );
    second.wait_passes(3);
    assert_eq!(second.metric("bindery_hub_member"), 0.0);
    assert_eq!(first.metric("bindery_hub_member"), 1.0);
    assert_eq!(member_of(), id1, "the second twin wrote over the first");

    // The first goes away: once its hold of the name expires, the second
    // takes the name over and writes.
    first.stop();
    wait_for(LIMIT, "the second twin to take the name over", || {
        member_of() == id2
    });
    assert_eq!(second.metric("bindery_hub_member"), 1.0);
}

#[test]
fn a_hub_down_for_60_s_leaves_members_serving_and_they_converge_after() {
    let cs = clusters();
    let hub = another("hub-outage");
    let (m1, m2) = (&cs.m1, &cs.m2);
    let (hns, op, apps) = ("h3-hub", "h3-op", "h3-apps");
    hub.namespace(hns);
    m1.namespace(apps);
    m2.namespace(apps);
    let up = Server::start(line_echo("h3")).leak().to_string();
    hub.apply(&endpoint(
        hns,
        "kept",
        "tcp://kept.h3-apps:80",
        "h3",
        &up,
        "gold",
    ));
    let pol = policy("h3", 23400, "");
    let (l1, l2) = ("127.0.5.5", "127.0.5.6");
    let a = member(m1, &hub.kubeconfig, op, &pol, l1, hns, "m1");
    let b = member(m2, &hub.kubeconfig, op, &pol, l2, hns, "m2");
    let url = "tcp://kept.h3-apps:80";
    wait_says(m1, op, l1, url, "up", "h3 up");
    wait_says(m2, op, l2, url, "up", "h3 up");
    let at = |m: &Cluster, l: &str| served_at(m, op, l, url).expect("kept is served");
    let (k1, k2) = (at(m1, l1), at(m2, l2));

    hub.testenv("stop-apiserver");
    assert!(
        hub.kubectl_status(&["get", "ns"]).is_err(),
        "the hub is still up"
    );
    let up_metric =
        format!("bindery_source_up{{source=\"hub BoundEndpoints of namespace {hns}\"}}");
    let start = Instant::now();
    let mut exchanges = 0;
    while start.elapsed() < Duration::from_secs(60) {
        for (k, m) in [(k1, "m1"), (k2, "m2")] {
            assert_eq!(
                say(k, "down").ok().as_deref(),
                Some("h3 down"),
                "{m} stopped forwarding after {exchanges} exchanges with the hub down"
            );
        }
        exchanges += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    // The members kept their Services and report the hub's failure.
    assert_eq!(services(m1, apps), ["kept"]);
    assert_eq!(services(m2, apps), ["kept"]);
    assert_eq!(a.metric(&up_metric), 0.0, "m1 reports the hub down");
    assert_eq!(b.metric(&up_metric), 0.0, "m2 reports the hub down");

    hub.testenv("start-apiserver");
    hub.apply(&endpoint(
        hns,
        "fresh",
        "tcp://fresh.h3-apps:81",
        "h3",
        &up,
        "gold",
    ));
    wait_for(LIMIT, "both members to converge on kept and fresh", || {
        services(m1, apps) == ["fresh", "kept"] && services(m2, apps) == ["fresh", "kept"]
    });
    wait_says(m1, op, l1, "tcp://fresh.h3-apps:81", "back", "h3 back");
    wait_says(m2, op, l2, "tcp://fresh.h3-apps:81", "back", "h3 back");
    wait_for(LIMIT, "both members' entries of fresh", || {
        entries(&hub, hns, "fresh").1 == "2"
    });
    wait_for(LIMIT, "the members to see the hub up again", || {
        a.metric(&up_metric) == 1.0 && b.metric(&up_metric) == 1.0
    });
    // The forwarder ports did not move.
    assert_eq!((at(m1, l1), at(m2, l2)), (k1, k2));
}
