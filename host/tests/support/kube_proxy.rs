//! A node for direct mode's tests and bench: kube-proxy (iptables mode) in a
//! network namespace the caller makes, its upstreams' namespace beside it
//! (a veth pair, 10.77.0.1 on the node, 10.77.0.2-6 for the upstreams),
//! and a relay to the testenv apiserver on the machine's loopback. Every
//! rule kube-proxy writes stays in the node's namespace.
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use super::cluster::Cluster;
use super::netns::Netns;
use super::tools;

/// The upstreams' port.
pub const UP_PORT: u16 = 9000;

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The node: its namespace with kube-proxy, the upstreams' namespace.
pub struct Node {
    pub up: Netns,
    /// The operator's kubeconfig inside the node (the relay's address).
    pub kubeconfig: PathBuf,
    _kube_proxy: Proc,
    _dir: tempfile::TempDir,
    pub node: Netns,
}

pub fn ip4(last: u8) -> IpAddr {
    IpAddr::from([10, 77, 0, last])
}

pub fn root_iptables() -> String {
    let out = tools::on_path("iptables-save")
        .output()
        .expect("iptables-save");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn node(c: &Cluster) -> Node {
    let id = std::process::id() % 100_000;
    let node = Netns::new(&format!("bd-node-{id}"));
    let up = Netns::new(&format!("bd-up-{id}"));
    let addrs: Vec<String> = (2..=6).map(|i| format!("10.77.0.{i}/24")).collect();
    let addrs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    node.veth(
        &format!("bdn{id}"),
        "10.77.0.1/24",
        &up,
        &format!("bdu{id}"),
        &addrs,
    );
    // A ClusterIP needs a route before kube-proxy's DNAT rewrites it.
    node.ip(&["route", "add", "default", "via", "10.77.0.2"]);

    let text = std::fs::read_to_string(&c.kubeconfig).expect("kubeconfig");
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .expect("server line")
        .to_string();
    let api: SocketAddr = server.parse().expect("apiserver address");
    let inside = SocketAddr::from(([127, 0, 0, 1], 6443));
    node.relay(inside, api);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, text.replace(&server, &inside.to_string())).expect("kubeconfig");

    c.apply(
        "apiVersion: v1\nkind: Node\nmetadata: {name: bd-node}\nstatus:\n  addresses: [{type: InternalIP, address: 10.77.0.1}]\n",
    );
    let config = dir.path().join("kube-proxy.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {{kubeconfig: {}}}
hostnameOverride: bd-node
mode: iptables
clusterCIDR: 10.244.0.0/16
bindAddress: 10.77.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {{minSyncPeriod: 0s}}
# The conntrack sysctls are left alone: some are not per namespace.
conntrack: {{maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
",
            kubeconfig.display()
        ),
    )
    .expect("kube-proxy config");
    let log = std::fs::File::create(c.dir.join("kube-proxy.log")).expect("log");
    let kube_proxy = node
        .exec(&tools::kube_proxy())
        .arg(format!("--config={}", config.display()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting kube-proxy");
    Node {
        up,
        kubeconfig,
        _kube_proxy: Proc(kube_proxy),
        _dir: dir,
        node,
    }
}

/// kube-proxy's NAT rules in the node.
pub fn rules(n: &Netns) -> String {
    let out = n
        .exec(std::path::Path::new("iptables-save"))
        .args(["-t", "nat"])
        .output()
        .expect("iptables-save in the node");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn dnat(n: &Netns, last: u8) -> bool {
    rules(n).contains(&format!("--to-destination 10.77.0.{last}:{UP_PORT}"))
}
