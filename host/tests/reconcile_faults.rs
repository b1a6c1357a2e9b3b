//! The apiserver stopped for 30 s mid-run and started again (etcd stays):
//! the forwarder keeps serving what it had, and once the apiserver is back
//! Bindery converges on what changed meanwhile, with no orphan and no
//! duplicate. Its own testenv, since the outage would hit other tests.
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::cluster::{Cluster, Operator, cluster};
use support::forward::{Server, line_echo, say};
use support::{repo_root, wait_for, write_file};

fn testenv(script: &str, c: &Cluster) {
    let status = Command::new(repo_root().join("testenv").join(script))
        .env("BINDERY_TESTENV_DIR", &c.dir)
        .status()
        .expect("running testenv script");
    assert!(status.success(), "testenv/{script} failed");
}

fn catalog(entries: &[(&str, &str)]) -> String {
    let mut s = String::from("endpoints:\n");
    for (url, upstream) in entries {
        s += &format!(
            "  - url: {url}\n    account: f1\n    upstreams: [{{address: \"{upstream}\"}}]\n"
        );
    }
    s
}

#[test]
fn an_apiserver_outage_converges_without_orphans_or_duplicates_and_keeps_serving() {
    let limit = Duration::from_secs(60);
    let c = cluster("reconcile-faults");
    let (op, apps) = ("f1-op", "f1-apps");
    c.namespace(op);
    c.namespace(apps);
    let up = Server::start(line_echo("f1")).leak().to_string();
    c.apply(&format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: kept, namespace: {op}}}\nspec: {{url: \"tcp://kept.{apps}:80\", account: f1, upstreams: [{{address: \"{up}\"}}]}}\n"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("catalog.yaml");
    write_file(&file, &catalog(&[("tcp://old.f1-apps:81", &up)]));
    std::fs::write(
        dir.path().join("policy.yaml"),
        "account: f1\nports: {first: 22000, last: 22099}\n",
    )
    .expect("policy");
    let operator = Operator::start(
        c,
        "f1-0",
        &[
            "--operator-namespace",
            op,
            "--policy",
            dir.path().join("policy.yaml").to_str().expect("utf-8"),
            "--catalog",
            file.to_str().expect("utf-8"),
            "--listen",
            "127.0.3.1",
            "--resync-seconds",
            "2",
            "--lease-seconds",
            "3",
        ],
    );
    let managed = "app.kubernetes.io/managed-by=bindery";
    wait_for(limit, "kept and old projected", || {
        let mut s = c.services(apps, managed);
        s.sort();
        s == ["kept", "old"]
    });
    let port = |name: &str| -> u16 {
        let ports = c.allocation(op, managed);
        ports
            .get(&format!(
                "tcp://{name}.{apps}:{}",
                if name == "kept" { 80 } else { 82 }
            ))
            .copied()
            .unwrap_or(0)
    };
    let kept_port = port("kept");
    let kept = format!("127.0.3.1:{kept_port}").parse().expect("addr");
    wait_for(limit, "kept to be served", || {
        say(kept, "before").is_ok_and(|r| r == "f1 before")
    });

    testenv("stop-apiserver", c);
    assert!(
        c.kubectl_status(&["get", "ns"]).is_err(),
        "the apiserver is still up"
    );
    // Meanwhile the catalog file changes: old goes, new comes.
    write_file(&file, &catalog(&[("tcp://new.f1-apps:82", &up)]));
    let start = Instant::now();
    let mut served = 0;
    while start.elapsed() < Duration::from_secs(30) {
        let reply = say(kept, "during");
        assert_eq!(
            reply.as_deref().ok(),
            Some("f1 during"),
            "the forwarder stopped serving during the outage after {served} exchanges"
        );
        served += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    testenv("start-apiserver", c);

    wait_for(limit, "convergence on kept and new", || {
        let mut s = c.services(apps, managed);
        s.sort();
        s == ["kept", "new"] && c.services(op, managed).len() == 2
    });
    // No duplicates: one upstream per URL, distinct ports; kept's unchanged.
    let urls = c.kubectl(&[
        "get",
        "svc",
        "-n",
        op,
        "-l",
        managed,
        "-o",
        r#"jsonpath={.items[*].metadata.annotations.bindery\.dev/urls}"#,
    ]);
    let mut urls: Vec<&str> = urls.split_whitespace().collect();
    urls.sort();
    assert_eq!(urls, ["tcp://kept.f1-apps:80", "tcp://new.f1-apps:82"]);
    assert_eq!(port("kept"), kept_port, "kept's port moved");
    assert_ne!(port("new"), kept_port);
    let new = format!("127.0.3.1:{}", port("new")).parse().expect("addr");
    wait_for(limit, "new to be served", || {
        say(new, "after").is_ok_and(|r| r == "f1 after")
    });
    assert_eq!(say(kept, "after").ok().as_deref(), Some("f1 after"));
    let ready = c
        .get(
            "boundendpoint",
            op,
            "kept",
            r#"{.status.conditions[?(@.type=="Ready")].status}"#,
        )
        .unwrap_or_default();
    assert_eq!(ready, "True");
    assert!(operator.ready());
}
