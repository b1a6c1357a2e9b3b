//! `testenv/start --node` and `testenv/stop` keep the machine's own network
//! namespace as they found it: no iptables or nftables rule of the node's
//! there while it runs or after, no cluster address on the machine's
//! interfaces, and nothing of the node left after stop (namespace, veth,
//! cgroups, mounts, processes).
mod support;

use std::process::{Command, Stdio};

use support::cluster::testenv_dir;
use support::repo_root;
use support::tools::{kubectl, on_path};

/// `cmd` (from a Debian package `testenv/setup node` installs): its stdout.
fn out(cmd: &str, args: &[&str]) -> String {
    run(on_path(cmd).args(args))
}

fn run(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The machine's rules, both front ends, without iptables-save's comments
/// (they carry timestamps).
fn rules() -> String {
    let ipt: String = out("iptables-save", &[])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let ip6: String = out("ip6tables-save", &[])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "iptables:\n{ipt}ip6tables:\n{ip6}nft:\n{}",
        out("nft", &["list", "ruleset"])
    )
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn node_leaves_the_machines_namespace_as_it_found_it() {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "testenv/start --node needs root: run `cargo test --release` as root"
    );
    let dir = testenv_dir("node-lifecycle");
    let before = rules();
    let routes_before = out("ip", &["-4", "route"]);
    let start = Command::new(repo_root().join("testenv/start"))
        .arg("--node")
        .env("BINDERY_TESTENV_DIR", &dir)
        .env("BINDERY_TESTENV_INSTALL", "0")
        // The node alone: the Bindery image is the other tests' business.
        .env("BINDERY_NODE_IMAGE", "none")
        .stderr(Stdio::inherit())
        .output()
        .expect("testenv/start --node");
    let stop = || {
        let status = Command::new(repo_root().join("testenv/stop"))
            .env("BINDERY_TESTENV_DIR", &dir)
            .stderr(Stdio::inherit())
            .status()
            .expect("testenv/stop");
        assert!(status.success(), "testenv/stop failed");
    };
    if !start.status.success() {
        stop();
        panic!("testenv/start --node failed");
    }
    let node = dir.join("node");
    let netns = read(&node.join("netns"));
    let host_ip = read(&node.join("host-ip"));
    let cgroup = read(&node.join("cgroup"));
    let kubeconfig = String::from_utf8_lossy(&start.stdout)
        .lines()
        .last()
        .expect("kubeconfig")
        .trim()
        .to_string();

    // Running, with CoreDNS scheduled, Ready and served through kube-proxy
    // (whose rules are in the node's namespace).
    let dns = run(kubectl().args([
        "--kubeconfig",
        &kubeconfig,
        "get",
        "endpointslices",
        "-n",
        "kube-system",
        "-l",
        "kubernetes.io/service-name=kube-dns",
        "-o",
        "jsonpath={.items[*].endpoints[*].conditions.ready}",
    ]));
    let node_rules = out(
        "nsenter",
        &[&format!("--net=/run/netns/{netns}"), "--", "iptables-save"],
    );
    let while_running = rules();
    stop();
    let after = rules();

    assert!(
        dns.contains("true"),
        "CoreDNS has no ready endpoint: {dns:?}"
    );
    assert!(
        node_rules.contains("KUBE-SERVICES"),
        "kube-proxy's rules are not in the node's namespace:\n{node_rules}"
    );
    assert_eq!(
        while_running, before,
        "the node's rules reached the machine's namespace while it ran"
    );
    assert_eq!(
        after, before,
        "testenv/stop left the machine's rules changed"
    );

    // Nothing of the node is left.
    assert!(
        !out("ip", &["netns", "list"]).contains(&netns),
        "{netns} is left"
    );
    assert!(
        !out("ip", &["-o", "addr"]).contains(&host_ip),
        "the link's address {host_ip} is left"
    );
    assert_eq!(out("ip", &["-4", "route"]), routes_before);
    let mounts = read(std::path::Path::new("/proc/self/mountinfo"));
    assert!(
        !mounts.contains(dir.to_str().expect("utf-8")),
        "mounts under {} are left",
        dir.display()
    );
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroup hierarchies")
        .flatten()
    {
        let left = h.path().join(cgroup.trim_start_matches('/'));
        assert!(!left.exists(), "{} is left", left.display());
    }
    assert!(!dir.exists(), "{} is left", dir.display());
}
