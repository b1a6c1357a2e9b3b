//! Direct mode on the node of `testenv/start --node`, as a user runs it:
//! the chart installed with Helm, a `BoundEndpoint` with `mode: direct`,
//! and a client pod connecting by name (CoreDNS) to the selector-less
//! Service Bindery projected, kube-proxy carrying each connection straight
//! to upstream servers in the node's network namespace, with no forwarder
//! on the path. An upstream stopped leaves kube-proxy's rules; the switch
//! to proxy mode and back, under the client pod's load by name, converges
//! with no leftover objects. The test prints what it measures as
//! `node-figure:` lines (BENCHMARKS.md, "Direct mode"); none is asserted
//! on.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::node::{Node, TcpUpstream, figure, node};
use support::wait_for;

const NS: &str = "bindery-dn";
const RELEASE: &str = "bindery-dn";
const ACCOUNT: &str = "dn";
const APPS: &str = "dn-apps";
const CLIENTS: &str = "dn-clients";
/// The name clients use, and the endpoint's object in `NS`.
const SERVICE: &str = "ceph";
const URL: &str = "tcp://ceph.dn-apps:80";
/// Bound on waits for the cluster to act; the machine is shared.
const PATIENCE: Duration = Duration::from_secs(180);
/// One connection by name from the client pod: the upstream's greeting
/// line, or `fail`.
const ATTEMPT: &str =
    r#"r=$(echo | nc -w 2 ceph.dn-apps 80 2>/dev/null | head -n 1); echo "a ${r:-fail}""#;

/// The chart, with an active TCP health check every second.
fn install(n: &Node) {
    let account = format!("policy.account={ACCOUNT}");
    n.helm_install(
        RELEASE,
        NS,
        &[
            &account,
            "policy.forwarding.drainSeconds=5",
            "policy.forwarding.healthCheck.type=tcp",
            "policy.forwarding.healthCheck.intervalSeconds=1",
            "policy.forwarding.healthCheck.timeoutMs=300",
            "policy.forwarding.healthCheck.unhealthyAfter=1",
            "policy.forwarding.healthCheck.healthyAfter=1",
        ],
    );
}

fn endpoint(mode: &str, upstreams: &[&TcpUpstream]) -> String {
    let list: String = upstreams
        .iter()
        .map(|u| format!("  - {{address: \"{}\"}}\n", u.addr))
        .collect();
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: {SERVICE}, namespace: {NS}}}\nspec:\n  url: {URL}\n  account: {ACCOUNT}\n  mode: {mode}\n  upstreams:\n{list}"
    )
}

/// The endpoint's mode and Ready condition as its status says.
fn status(n: &Node) -> (String, String) {
    let o = n.json(&["get", "boundendpoint", SERVICE, "-n", NS]);
    let ready = o["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| format!("{} {}", c["status"], c["reason"]))
        .unwrap_or_default();
    let mode = o["status"]["mode"].as_str().unwrap_or_default().to_string();
    (mode, ready.replace('"', ""))
}

/// The clients' Service: its type, and whether it has a selector.
fn service(n: &Node) -> Option<(String, bool)> {
    let s = n
        .kubectl_status(&["get", "service", SERVICE, "-n", APPS, "-o", "json"])
        .ok()?;
    let s: Value = serde_json::from_str(&s).ok()?;
    Some((
        s["spec"]["type"].as_str().unwrap_or_default().to_string(),
        s["spec"]["selector"].is_object(),
    ))
}

/// `ip:port` → ready, of every endpoint in the Service's slices.
fn listed(n: &Node) -> BTreeMap<String, bool> {
    let selector = format!("kubernetes.io/service-name={SERVICE}");
    let slices = n.json(&["get", "endpointslices", "-n", APPS, "-l", &selector]);
    let mut out = BTreeMap::new();
    for s in slices["items"].as_array().into_iter().flatten() {
        let port = s["ports"][0]["port"].as_u64().unwrap_or_default();
        for e in s["endpoints"].as_array().into_iter().flatten() {
            let ip = e["addresses"][0].as_str().unwrap_or_default();
            let ready = e["conditions"]["ready"].as_bool().unwrap_or(false);
            out.insert(format!("{ip}:{port}"), ready);
        }
    }
    out
}

/// The names of the upstream Services Bindery projected in its own
/// namespace for `URL` (proxy mode's).
fn upstream_services(n: &Node) -> Vec<String> {
    n.upstream_services(NS, ACCOUNT, URL)
        .iter()
        .filter_map(|s| s["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// `count` connections by name from the client pod, one after another:
/// each the greeting of the upstream that answered, or `fail`.
fn attempts(n: &Node, count: usize) -> Vec<String> {
    let script = format!("for i in $(seq {count}); do {ATTEMPT}; done");
    let out = n
        .exec(CLIENTS, "client", &["sh", "-c", &script])
        .unwrap_or_else(|e| panic!("the client pod's loop: {e}"));
    out.lines()
        .filter_map(|l| l.strip_prefix("a "))
        .map(str::to_string)
        .collect()
}

/// The client pod connecting by name in a loop, each attempt's result
/// stamped as its line arrives.
struct Load {
    child: std::process::Child,
    seen: Arc<Mutex<Vec<(Instant, bool)>>>,
}

impl Load {
    fn start(n: &Node) -> Load {
        let script = format!("while true; do {ATTEMPT}; done");
        let mut child = n
            .kubectl_cmd()
            .args(["exec", "-n", CLIENTS, "client", "--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl exec");
        let out = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(r) = line.strip_prefix("a ") {
                    into.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((Instant::now(), r != "fail"));
                }
            }
        });
        Load { child, seen }
    }

    fn seen(&self) -> Vec<(Instant, bool)> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait until `k` more attempts have succeeded in a row.
    fn wait_ok(&self, k: usize, what: &str) {
        let from = self.seen().len();
        wait_for(PATIENCE, what, || {
            let s = self.seen();
            s.len() >= from + k && s[s.len() - k..].iter().all(|(_, ok)| *ok)
        });
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Failed attempts in `s`, and the longest time with no success: from the
/// last success before a run of failures to the first after it.
fn gap(s: &[(Instant, bool)]) -> (usize, Duration) {
    let failed = s.iter().filter(|(_, ok)| !ok).count();
    let mut longest = Duration::ZERO;
    let mut last_ok: Option<Instant> = None;
    let mut failing = false;
    for (t, ok) in s {
        if *ok {
            if let (true, Some(before)) = (failing, last_ok) {
                longest = longest.max(*t - before);
            }
            last_ok = Some(*t);
            failing = false;
        } else {
            failing = true;
        }
    }
    (failed, longest)
}

/// Switch the endpoint to `mode` under the load; converged when the
/// status and the objects say so and clients get through again.
fn switch(n: &Node, load: &Load, mode: &str, upstreams: &[&TcpUpstream]) {
    let started = Instant::now();
    let from = load.seen().len();
    n.apply(&endpoint(mode, upstreams));
    wait_for(PATIENCE, &format!("status mode {mode}, Ready"), || {
        let (m, ready) = status(n);
        m == mode && ready.starts_with("True")
    });
    let direct = mode == "direct";
    wait_for(PATIENCE, &format!("the objects of {mode} mode"), || {
        let svc = service(n);
        let slices = listed(n);
        let upstream = upstream_services(n);
        if direct {
            svc == Some(("ClusterIP".into(), false))
                && slices.len() == upstreams.len()
                && upstream.is_empty()
        } else {
            svc.is_some_and(|(t, _)| t == "ExternalName")
                && slices.is_empty()
                && upstream.len() == 1
        }
    });
    load.wait_ok(10, &format!("clients through in {mode} mode"));
    let (failed, longest) = gap(&load.seen()[from..]);
    figure(
        &format!("switch to {mode}: applied to converged (s)"),
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    figure(
        &format!("switch to {mode}: failed connections by name / longest time without one (s)"),
        format!(
            "{failed} of {} / {:.2}",
            load.seen().len() - from,
            longest.as_secs_f64()
        ),
    );
}

#[test]
fn direct_mode_on_a_node_by_name_through_coredns_and_kube_proxy() {
    let n = node("direct-node");
    install(n);
    n.namespace(APPS);
    n.namespace(CLIENTS);
    n.client_pod(CLIENTS, "client");
    let ups: Vec<TcpUpstream> = (0..3).map(|i| n.tcp_upstream(&format!("u{i}"))).collect();
    let all: Vec<&TcpUpstream> = ups.iter().collect();
    n.apply(&endpoint("direct", &all));

    wait_for(PATIENCE, "the direct Service and its slices", || {
        service(n) == Some(("ClusterIP".into(), false))
            && listed(n).values().filter(|r| **r).count() == 3
    });
    let (mode, ready) = status(n);
    assert_eq!(mode, "direct");
    assert!(ready.starts_with("True"), "Ready: {ready}");
    assert!(upstream_services(n).is_empty(), "no forwarder Service");

    // By name, through CoreDNS and kube-proxy: spread over the upstreams
    // (kube-proxy may sync its rules once per slice as they appear).
    let mut seen = BTreeSet::new();
    wait_for(PATIENCE, "every upstream to answer by name", || {
        seen.extend(attempts(n, 10));
        ["u0", "u1", "u2"].iter().all(|u| seen.contains(*u))
    });
    let got = attempts(n, 30);
    let tags: BTreeSet<&str> = got.iter().map(String::as_str).collect();
    assert!(!tags.contains("fail"), "every connection answered: {got:?}");
    assert!(tags.len() >= 2, "kube-proxy spreads them: {got:?}");

    // One upstream stopped: out of its slice's ready endpoints, then out of
    // kube-proxy's rules; no new connection reaches it.
    let stopped = Instant::now();
    ups[1].stop();
    let key = ups[1].addr.to_string();
    wait_for(PATIENCE, "the stopped upstream not ready", || {
        listed(n).get(&key) == Some(&false)
    });
    figure(
        "an upstream stopped → not ready in its slice (s)",
        format!("{:.2}", stopped.elapsed().as_secs_f64()),
    );
    let accepted = ups[1].accepted.load(std::sync::atomic::Ordering::SeqCst);
    // kube-proxy syncs its rules a moment after the slice changes.
    wait_for(PATIENCE, "kube-proxy to leave it out", || {
        attempts(n, 10).iter().all(|r| r != "fail")
    });
    let got = attempts(n, 30);
    assert!(
        got.iter().all(|r| r == "u0" || r == "u2"),
        "only the live upstreams answer: {got:?}"
    );
    assert_eq!(
        ups[1].accepted.load(std::sync::atomic::Ordering::SeqCst),
        accepted,
        "the stopped upstream accepted nothing"
    );

    // The switch both ways under load, by name throughout.
    let live = [&ups[0], &ups[2]];
    n.apply(&endpoint("direct", &live));
    wait_for(PATIENCE, "two upstreams listed", || listed(n).len() == 2);
    let load = Load::start(n);
    load.wait_ok(10, "the load through direct mode");
    switch(n, &load, "proxy", &live);
    switch(n, &load, "direct", &live);
    drop(load);

    // Deleted: the Service and its slices go.
    n.kubectl(&["delete", "boundendpoint", SERVICE, "-n", NS]);
    wait_for(PATIENCE, "the Service and slices removed", || {
        service(n).is_none() && listed(n).is_empty() && upstream_services(n).is_empty()
    });
}
