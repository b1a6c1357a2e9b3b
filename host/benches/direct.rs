//! `cargo bench --bench direct`: direct mode through a real kube-proxy
//! (iptables mode, in a network namespace the bench makes, as the tests'
//! `support::kube_proxy` node), side by side in one run: a client in the
//! node's namespace connecting straight to an upstream's IP, and through
//! the ClusterIP of a direct-mode Service that `bindery run` projected
//! with that upstream as its one endpoint. New connections per second
//! (connect, read the server's line, close) and a bulk transfer (echoed),
//! alternated in rounds; medians and ratios printed. Not a timed test
//! (BENCHMARKS.md has the measured figures).
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::cluster::{Operator, cluster};
use support::kube_proxy::{UP_PORT, dnat, ip4, node, root_iptables};
use support::netns::{Netns, NsServer, who};
use support::wait_for;

const ROUNDS: usize = 9;
/// Each round alternates the two paths this many times, in short turns,
/// so that both see the same moments of a busy machine.
const TURNS: usize = 8;
const CONNECT_FOR: Duration = Duration::from_millis(250);
const BULK_BYTES: usize = 64 << 20;

fn connections_per_second(n: &Netns, to: SocketAddr) -> f64 {
    n.enter(move || {
        let t = Instant::now();
        let mut done = 0u64;
        while t.elapsed() < CONNECT_FOR {
            who(to, Duration::from_secs(2)).expect("a connection");
            done += 1;
        }
        done as f64 / t.elapsed().as_secs_f64()
    })
}

/// MiB/s of `BULK_BYTES` written and read back on one connection.
fn bulk(n: &Netns, to: SocketAddr) -> f64 {
    n.enter(move || {
        let mut s = TcpStream::connect(to).expect("connect");
        let mut line = [0u8; 64];
        // The server's greeting line first.
        let mut got = 0;
        while !line[..got].contains(&b'\n') {
            got += s.read(&mut line[got..]).expect("greeting");
        }
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

fn main() {
    let before = root_iptables();
    let c = cluster("bench-direct");
    let (op, apps) = ("bd-op", "bd-apps");
    c.namespace(op);
    c.namespace(apps);
    let n = node(c);
    // Many short connections from one client: reuse TIME_WAIT ports (in
    // the node's namespace only).
    let sysctl = |k: &str| {
        let ok = n
            .node
            .exec(std::path::Path::new("sysctl"))
            .args(["-qw", k])
            .status()
            .expect("sysctl")
            .success();
        assert!(ok, "sysctl {k}");
    };
    sysctl("net.ipv4.tcp_tw_reuse=1");
    sysctl("net.ipv4.ip_local_port_range=10000 65000");
    let upstream = SocketAddr::new(ip4(3), UP_PORT);
    let _server = NsServer::start(&n.up, upstream);
    c.apply(&format!(
        "apiVersion: bindery.dev/v1alpha1\nkind: BoundEndpoint\nmetadata: {{name: bench, namespace: {op}}}\nspec:\n  url: tcp://bench.{apps}:80\n  account: bd\n  mode: direct\n  upstreams: [{{address: \"{upstream}\"}}]\n"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("policy.yaml"),
        "account: bd\nports: {first: 24000, last: 24099}\nforwarding:\n  healthCheck: {type: tcp, intervalSeconds: 5}\n",
    )
    .expect("policy");
    let policy = dir.path().to_str().expect("utf-8").to_string();
    let mut operator = Operator::start_with(
        c,
        n.node
            .exec(std::path::Path::new(env!("CARGO_BIN_EXE_bindery"))),
        &n.kubeconfig,
        "bd-0",
        &[
            "--operator-namespace",
            op,
            "--policy",
            &policy,
            "--listen",
            "127.0.0.1",
        ],
    );
    let limit = Duration::from_secs(120);
    let ip = || {
        c.get("svc", apps, "bench", "{.spec.clusterIP}")
            .unwrap_or_default()
    };
    wait_for(limit, "the direct Service", || {
        ip().parse::<std::net::IpAddr>().is_ok()
    });
    let service = SocketAddr::new(ip().parse().expect("ClusterIP"), 80);
    wait_for(limit, "kube-proxy's rules", || dnat(&n.node, 3));

    // Each round measures both paths in alternating short turns, and the
    // ratio is taken per round: a busy machine's drift then cancels.
    let (mut cs, mut cd, mut bs, mut bd) = (vec![], vec![], vec![], vec![]);
    let (mut cr, mut br) = (vec![], vec![]);
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 {
            [upstream, service]
        } else {
            [service, upstream]
        };
        let mut conns = [0.0; 2];
        let mut bulks = [0.0; 2];
        for turn in 0..TURNS {
            for k in 0..2 {
                let to = order[(k + turn) % 2];
                let i = usize::from(to == service);
                conns[i] += connections_per_second(&n.node, to) / TURNS as f64;
                bulks[i] += bulk(&n.node, to) / TURNS as f64;
            }
        }
        cs.push(conns[0]);
        cd.push(conns[1]);
        bs.push(bulks[0]);
        bd.push(bulks[1]);
        cr.push(conns[1] / conns[0]);
        br.push(bulks[1] / bulks[0]);
        eprintln!(
            "round {round}: conn/s straight {:.0} direct {:.0}; bulk MiB/s straight {:.0} direct {:.0}",
            conns[0], conns[1], bulks[0], bulks[1]
        );
    }
    println!(
        "new connections/s (median of {ROUNDS} rounds): straight to the IP {:.0}, through the direct-mode Service {:.0}; direct/straight per round: median {:.3}, range {:.3}-{:.3}",
        median(cs),
        median(cd),
        median(cr.clone()),
        cr.iter().copied().fold(f64::INFINITY, f64::min),
        cr.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "bulk MiB/s (echoed, {} MiB a turn): straight {:.0}, direct {:.0}; direct/straight per round: median {:.3}, range {:.3}-{:.3}",
        BULK_BYTES >> 20,
        median(bs),
        median(bd),
        median(br.clone()),
        br.iter().copied().fold(f64::INFINITY, f64::min),
        br.iter().copied().fold(0.0, f64::max)
    );
    operator.stop();
    drop(n);
    assert_eq!(
        root_iptables(),
        before,
        "the machine's own iptables rules changed"
    );
}
