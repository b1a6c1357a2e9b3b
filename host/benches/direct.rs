//! `cargo bench --bench direct`: direct mode on the node of `testenv/start
//! --node`, side by side in one run with the chart installed and one
//! upstream server in a network namespace beside the node's (a veth link
//! away, as another machine): a client in the node's namespace (where
//! kube-proxy's rules apply, as to a pod's traffic) connecting straight to
//! the upstream's IP, through the ClusterIP of a direct-mode Service
//! (kube-proxy to the upstream), and through the ClusterIP of a proxy-mode
//! upstream Service (kube-proxy to a forwarder pod, then the forwarder to
//! the upstream). New connections per second (connect, read the server's
//! line, close) and a bulk transfer (echoed), alternated in short turns,
//! ratios per round; medians printed. Not a timed test (BENCHMARKS.md has
//! the measured figures).
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::node::{NEIGHBOUR, Node, TcpUpstream, node};
use support::wait_for;

const ROUNDS: usize = 7;
/// Each round alternates the paths this many times, in short turns, so
/// that all see the same moments of a busy machine.
const TURNS: usize = 6;
const CONNECT_FOR: Duration = Duration::from_millis(250);
const BULK_BYTES: usize = 32 << 20;
const NS: &str = "bench-direct";
const APPS: &str = "bench-apps";
const ACCOUNT: &str = "bd";
const PATHS: [&str; 3] = ["straight", "direct", "proxy"];

/// The server's greeting line, then nothing more to read.
fn greeting(s: &mut TcpStream) {
    let mut line = [0u8; 64];
    let mut got = 0;
    while !line[..got].contains(&b'\n') {
        let k = s.read(&mut line[got..]).expect("greeting");
        assert!(k > 0, "closed before its greeting");
        got += k;
    }
}

/// Connections per second to `to`; a connection that fails is counted in
/// `failed` and not in the rate.
fn connections_per_second(n: &Node, to: SocketAddr, failed: &mut u64) -> f64 {
    let (rate, lost) = n.in_netns(move || {
        let t = Instant::now();
        let (mut done, mut lost) = (0u64, 0u64);
        while t.elapsed() < CONNECT_FOR {
            match TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
                Ok(mut s) => {
                    greeting(&mut s);
                    done += 1;
                }
                Err(e) => {
                    eprintln!("connect to {to}: {e}");
                    lost += 1;
                }
            }
        }
        (done as f64 / t.elapsed().as_secs_f64(), lost)
    });
    *failed += lost;
    rate
}

/// MiB/s of `BULK_BYTES` written and read back on one connection.
fn bulk(n: &Node, to: SocketAddr) -> f64 {
    n.in_netns(move || {
        let mut s = TcpStream::connect(to).expect("connect");
        greeting(&mut s);
        let mut w = s.try_clone().expect("clone");
        let t = Instant::now();
        let writer = std::thread::spawn(move || {
            let chunk = vec![7u8; 256 << 10];
            let mut left = BULK_BYTES;
            while left > 0 {
                let k = left.min(chunk.len());
                w.write_all(&chunk[..k]).expect("write");
                left -= k;
            }
        });
        let mut buf = vec![0u8; 256 << 10];
        let mut read = 0;
        while read < BULK_BYTES {
            let k = s.read(&mut buf).expect("read");
            assert!(k > 0, "closed early");
            read += k;
        }
        writer.join().expect("writer");
        (BULK_BYTES as f64 / f64::from(1 << 20)) / t.elapsed().as_secs_f64()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("{lo:.3}-{hi:.3}")
}

fn endpoint(name: &str, mode: &str, upstream: SocketAddr) -> String {
    format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  url: tcp://{name}.{APPS}:80\n  account: {ACCOUNT}\n  mode: {mode}\n  upstreams: [{{address: \"{upstream}\"}}]\n"
    )
}

/// The ClusterIP and port of a Service once it has one.
fn cluster_ip(n: &Node, ns: &str, name: &str) -> Option<SocketAddr> {
    let out = n
        .kubectl_status(&[
            "get",
            "service",
            name,
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.clusterIP} {.spec.ports[0].port}",
        ])
        .ok()?;
    let (ip, port) = out.trim().split_once(' ')?;
    Some(SocketAddr::new(
        ip.parse::<IpAddr>().ok()?,
        port.parse().ok()?,
    ))
}

/// The proxy-mode endpoint's upstream Service in the release namespace
/// (the one its ExternalName Service points at).
fn upstream_service(n: &Node, name: &str) -> Option<SocketAddr> {
    let target = n
        .kubectl_status(&[
            "get",
            "service",
            name,
            "-n",
            APPS,
            "-o",
            "jsonpath={.spec.externalName}",
        ])
        .ok()?;
    let svc = target.split('.').next().filter(|s| !s.is_empty())?;
    cluster_ip(n, NS, svc)
}

/// Whether a connection through `to` gets the upstream's greeting.
fn answers(n: &Node, to: SocketAddr) -> bool {
    n.in_netns(move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(2))
            .map(|mut s| {
                let mut b = [0u8; 8];
                s.set_read_timeout(Some(Duration::from_secs(2))).is_ok()
                    && s.read(&mut b).is_ok_and(|k| k > 0)
            })
            .unwrap_or(false)
    })
}

fn main() {
    let n = node("bench-direct");
    let account = format!("policy.account={ACCOUNT}");
    n.helm_install(NS, NS, &[&account]);
    n.namespace(APPS);
    // Many short connections from one client: reuse TIME_WAIT ports (in
    // the node's namespace only).
    for k in [
        "net.ipv4.tcp_tw_reuse=1",
        "net.ipv4.ip_local_port_range=10000 65000",
    ] {
        let ok = n
            .command("sysctl")
            .args(["-qw", k])
            .status()
            .expect("sysctl")
            .success();
        assert!(ok, "sysctl {k}");
    }
    let neighbour = n.neighbour("bench-direct-up");
    let listener = neighbour
        .enter(|| std::net::TcpListener::bind((NEIGHBOUR, 0)).expect("bind in the neighbour"));
    let up = TcpUpstream::serve(listener, "bench");
    n.apply(&endpoint("direct", "direct", up.addr));
    n.apply(&endpoint("proxy", "proxy", up.addr));
    let limit = Duration::from_secs(180);
    let mut direct = None;
    let mut proxy = None;
    wait_for(limit, "both Services answering", || {
        direct = cluster_ip(n, APPS, "direct");
        proxy = upstream_service(n, "proxy");
        direct.is_some_and(|d| answers(n, d)) && proxy.is_some_and(|p| answers(n, p))
    });
    let targets = [up.addr, direct.expect("direct"), proxy.expect("proxy")];
    eprintln!(
        "straight {}, direct {}, proxy {}",
        targets[0], targets[1], targets[2]
    );

    // Each round measures every path in alternating short turns, and the
    // ratios are taken per round: a busy machine's drift then cancels.
    let mut conns: [Vec<f64>; 3] = Default::default();
    let mut bulks: [Vec<f64>; 3] = Default::default();
    let mut conn_ratio: [Vec<f64>; 3] = Default::default();
    let mut bulk_ratio: [Vec<f64>; 3] = Default::default();
    let mut failed = [0u64; 3];
    for round in 0..ROUNDS {
        let mut c = [0.0; 3];
        let mut b = [0.0; 3];
        for turn in 0..TURNS {
            for k in 0..3 {
                let i = (k + turn + round) % 3;
                c[i] += connections_per_second(n, targets[i], &mut failed[i]) / TURNS as f64;
                b[i] += bulk(n, targets[i]) / TURNS as f64;
            }
        }
        for i in 0..3 {
            conns[i].push(c[i]);
            bulks[i].push(b[i]);
            conn_ratio[i].push(c[i] / c[0]);
            bulk_ratio[i].push(b[i] / b[0]);
        }
        eprintln!(
            "round {round}: conn/s straight {:.0} direct {:.0} proxy {:.0}; bulk MiB/s straight {:.0} direct {:.0} proxy {:.0}",
            c[0], c[1], c[2], b[0], b[1], b[2]
        );
    }
    for i in 0..3 {
        println!(
            "{:8} new connections/s median {:.0} (/straight per round: median {:.3}, range {}), {} failed; bulk MiB/s median {:.0} (/straight: median {:.3}, range {})",
            PATHS[i],
            median(conns[i].clone()),
            median(conn_ratio[i].clone()),
            range(&conn_ratio[i]),
            failed[i],
            median(bulks[i].clone()),
            median(bulk_ratio[i].clone()),
            range(&bulk_ratio[i]),
        );
    }
}
