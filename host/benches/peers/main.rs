//! Bindery against the peers, side by side in one run on loopback: the
//! same backends reached directly, through `bindery standalone`, through
//! HAProxy and (HTTP) through nginx `proxy_pass`. Prints each figure and its
//! ratio to direct and to HAProxy.
//!
//! `cargo bench --bench peers` (add `-- --quick` for a short smoke run,
//! `-- --only tcp` or `-- --only http` for one half, `-- --rounds N` for
//! other than three rounds).
//! `-- --soak PEER LOAD` (LOAD `bulk`, `conns`, `ping` or `http`) prints the bed's
//! process ids and runs that one load through that peer for 30 s, to
//! attach `perf` or `strace -c` to it; `LOAD,LOAD…` runs several in turn
//! through the same processes (`conns,http`: keep-alive after a warm-up). `PEERS_BINDERY=path` measures
//! another build of `bindery` in place of this one, `PEERS_BINDERY_B=path`
//! adds a second build as peer `bindery-b`, measured in the same rounds
//! and printed against the first (an A/B); `PEERS_PING_TRACE=1`
//! prints each ping-pong connection's own p50 and p99.
//! Needs haproxy, nginx, iperf3 and wrk: `testenv/setup benches` installs them.
mod load;
mod procs;
mod report;
mod setup;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use report::{Better, Figure};

/// How long and how often each figure is measured.
pub struct Plan {
    pub seconds: u64,
    pub rounds: usize,
    pub pings: usize,
    pub tcp: bool,
    pub http: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let (tcp, http) = match only.map(String::as_str) {
        None => (true, true),
        Some("tcp") => (true, false),
        Some("http") => (false, true),
        Some(other) => {
            eprintln!("--only takes tcp or http, not {other:?}");
            std::process::exit(2);
        }
    };
    if let Some(i) = args.iter().position(|a| a == "--soak") {
        let (peer, load) = (args.get(i + 1), args.get(i + 2));
        let result = match (peer, load) {
            (Some(peer), Some(load)) => soak(peer, load),
            _ => Err("--soak takes a peer (direct, bindery, haproxy, nginx) and a load (bulk, conns, ping, http)".into()),
        };
        if let Err(e) = result {
            eprintln!("peers soak failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let (seconds, mut rounds, pings) = if quick { (1, 1, 2_000) } else { (5, 3, 20_000) };
    if let Some(i) = args.iter().position(|a| a == "--rounds") {
        match args.get(i + 1).and_then(|n| n.parse().ok()) {
            Some(n) if n > 0 => rounds = n,
            _ => {
                eprintln!("--rounds takes a number of rounds, at least 1");
                std::process::exit(2);
            }
        }
    }
    let plan = Plan {
        seconds,
        rounds,
        pings,
        tcp,
        http,
    };
    if let Err(e) = run(&plan) {
        eprintln!("peers benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run(plan: &Plan) -> Result<(), String> {
    setup::require_peers()?;
    let bed = setup::Bed::start()?;
    let mut figures = Vec::new();

    let mut bulk = Figure::new("iperf3 single stream", "Gbit/s", Better::Higher);
    let mut conns = Figure::new(
        "new connections (1-byte request/reply)",
        "conn/s",
        Better::Higher,
    );
    let mut p50 = Figure::new("64-byte ping-pong, p50", "µs", Better::Lower);
    let mut p99 = Figure::new("64-byte ping-pong, p99", "µs", Better::Lower);
    let mut rps = Figure::new("HTTP keep-alive", "req/s", Better::Higher);

    // One load at a time over every peer, the rounds interleaved, so a
    // slow moment of the machine hits every peer alike; each round starts
    // one peer later than the last, so that no peer always follows the
    // same one. New connections come last: each leaves two sockets in
    // TIME_WAIT (the client's and the proxy's toward the echo server), and
    // the kernel expires them for a minute after, in timer interrupts
    // that would land in the latency of whatever ran next.
    if plan.tcp {
        quiet_time_wait();
        each_round("ping-pong", plan, &bed.tcp, |peer| {
            let (a, b) = load::ping_pong(first(&peer.echo)?, plan.pings)?;
            p50.add(peer.name, a);
            p99.add(peer.name, b);
            Ok(())
        })?;
        each_round("iperf3", plan, &bed.tcp, |peer| {
            bulk.add(peer.name, load::iperf3(peer.iperf, plan.seconds)?);
            Ok(())
        })?;
    }
    if plan.http {
        each_round("HTTP", plan, &bed.http, |peer| {
            rps.add(peer.name, load::wrk(peer.http, plan.seconds)?);
            Ok(())
        })?;
    }
    if plan.tcp {
        let dur = Duration::from_secs(plan.seconds);
        each_round("new connections", plan, &bed.tcp, |peer| {
            conns.add(peer.name, load::connections_per_second(&peer.echo, dur)?);
            Ok(())
        })?;
        figures.extend([bulk, conns, p50, p99]);
    }
    if plan.http {
        figures.push(rps);
    }
    println!("{}", report::table(&figures));
    Ok(())
}

/// Wait (a minute at most) until the TIME_WAIT sockets an earlier run
/// left have expired, so that their timers stay out of the latency.
fn quiet_time_wait() {
    let deadline = Instant::now() + Duration::from_secs(65);
    let mut told = false;
    while let Some(n) = time_wait_sockets().filter(|&n| n > 1_000) {
        if Instant::now() >= deadline {
            eprintln!("{n} sockets still in TIME_WAIT; measuring anyway");
            return;
        }
        if !told {
            eprintln!("waiting for {n} sockets in TIME_WAIT to expire");
            told = true;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The `tw` count of /proc/net/sockstat.
fn time_wait_sockets() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let tcp = stat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = tcp.split_whitespace();
    words.find(|w| *w == "tw")?;
    words.next()?.parse().ok()
}

/// `measure` for every peer, [`Plan::rounds`] times, each round starting
/// one peer later.
fn each_round<P>(
    what: &str,
    plan: &Plan,
    peers: &[P],
    mut measure: impl FnMut(&P) -> Result<(), String>,
) -> Result<(), String> {
    for round in 0..plan.rounds {
        eprintln!("{what}: round {}/{}", round + 1, plan.rounds);
        for peer in rotated(peers, round) {
            measure(peer)?;
        }
    }
    Ok(())
}

fn first(addrs: &[SocketAddr]) -> Result<SocketAddr, String> {
    addrs
        .first()
        .copied()
        .ok_or("a peer with no echo address".into())
}

/// `items` starting at the `by`th, wrapping around.
fn rotated<T>(items: &[T], by: usize) -> impl Iterator<Item = &T> {
    let by = by % items.len().max(1);
    items[by..].iter().chain(&items[..by])
}

/// Loads (comma-separated) through one peer, 30 s each, one after the other.
fn soak(peer: &str, what: &str) -> Result<(), String> {
    setup::require_peers()?;
    let bed = setup::Bed::start()?;
    eprintln!("{}", bed.describe());
    let dur = Duration::from_secs(30);
    let tcp = || {
        bed.tcp
            .iter()
            .find(|p| p.name == peer)
            .ok_or(format!("no tcp peer {peer}"))
    };
    for what in what.split(',') {
        match what {
            "conns" => {
                let rate = load::connections_per_second(&tcp()?.echo, dur)?;
                println!("{peer}: {rate:.0} conn/s");
            }
            "bulk" => {
                let gbits = load::iperf3(tcp()?.iperf, dur.as_secs())?;
                println!("{peer}: {gbits:.2} Gbit/s");
            }
            "ping" => {
                let (p50, p99) = load::ping_pong(first(&tcp()?.echo)?, 300_000)?;
                println!("{peer}: p50 {p50:.1} µs, p99 {p99:.1} µs");
            }
            "http" => {
                let p = bed.http.iter().find(|p| p.name == peer);
                let p = p.ok_or(format!("no http peer {peer}"))?;
                println!("{peer}: {:.0} req/s", load::wrk(p.http, dur.as_secs())?);
            }
            other => return Err(format!("no load {other:?}: bulk, conns, ping or http")),
        }
    }
    Ok(())
}
