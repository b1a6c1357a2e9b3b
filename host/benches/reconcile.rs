//! `cargo bench --bench reconcile`: 1,000 BoundEndpoints projected by
//! `bindery run` on a real kube-apiserver (testenv), from no Service to all
//! 2,000 applied and every object Ready; then a no-op resync, whose writes
//! are counted from the apiserver's audit log. Prints the figures; not a
//! timed test (BENCHMARKS.md has the measured ones).
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::cluster::{Operator, cluster};
use support::wait_for;

const N: usize = 1000;

fn main() {
    let c = cluster("bench");
    let (op, apps) = ("bench-op", "bench-apps");
    c.namespace(op);
    c.namespace(apps);
    let mut yaml = String::new();
    for i in 0..N {
        yaml += &format!(
            "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: e{i}, namespace: {op}}}\nspec: {{url: \"tcp://e{i}.{apps}:{}\", account: bench, upstreams: [{{address: \"127.0.0.1:9\"}}]}}\n---\n",
            1000 + i
        );
    }
    let t = Instant::now();
    c.apply(&yaml);
    eprintln!(
        "created {N} BoundEndpoints in {:.1?} (not measured)",
        t.elapsed()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("policy.yaml"),
        "account: bench\nports: {first: 30000, last: 31999}\n",
    )
    .expect("policy");
    let policy = dir.path().join("policy.yaml");
    let start = Instant::now();
    let operator = Operator::start(
        c,
        "bench-0",
        &[
            "--operator-namespace",
            op,
            "--policy",
            policy.to_str().expect("utf-8"),
            "--listen",
            "127.0.9.1",
            "--resync-seconds",
            "5",
        ],
    );
    let limit = Duration::from_secs(600);
    let count = |ns: &str| c.services(ns, "bindery.dev/account=bench").len();
    // Service applies: 2 per endpoint; statuses: 1 per endpoint.
    wait_for(limit, "2,000 Service applies", || {
        operator.metric("bindery_reconcile_applies_total") >= (2 * N) as f64
    });
    wait_for(limit, "2,000 Services", || {
        count(op) == N && count(apps) == N
    });
    let applied = start.elapsed();
    wait_for(limit, "every status Ready", || {
        let out = c.kubectl(&[
            "get",
            "boundendpoints",
            "-n",
            op,
            "-o",
            r#"jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}"#,
        ]);
        out.split_whitespace().filter(|s| *s == "True").count() == N
    });
    let ready = start.elapsed();

    std::thread::sleep(Duration::from_secs(3));
    let from = c.audit_len();
    let (sum, passes) = (
        operator.metric("bindery_reconcile_pass_seconds_sum"),
        operator.metric("bindery_reconcile_passes_total"),
    );
    operator.wait_passes(3);
    let writes = c.bindery_writes(from, &[op, apps]);
    let (sum2, passes2) = (
        operator.metric("bindery_reconcile_pass_seconds_sum"),
        operator.metric("bindery_reconcile_passes_total"),
    );
    println!("endpoints: {N}");
    println!(
        "empty -> all {} Services applied: {:.1} s",
        2 * N,
        applied.as_secs_f64()
    );
    println!(
        "empty -> all {N} BoundEndpoints Ready: {:.1} s",
        ready.as_secs_f64()
    );
    println!(
        "no-op resync passes: {}, mean pass {:.1} ms, writes in the audit log: {}",
        passes2 - passes,
        (sum2 - sum) * 1000.0 / (passes2 - passes),
        writes.len()
    );
    assert!(writes.is_empty(), "a no-op resync wrote: {writes:#?}");
}
