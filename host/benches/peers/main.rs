//! Bindery against the peers, side by side in one run on loopback: the
//! same backends reached directly, through `bindery standalone`, through
//! HAProxy and (HTTP) through nginx `proxy_pass`. Prints each figure and its
//! ratio to direct and to HAProxy.
//!
//! `cargo bench --bench peers` (add `-- --quick` for a short smoke run).
//! Installs haproxy, nginx, iperf3 and wrk from Debian when missing.
mod load;
mod procs;
mod report;
mod setup;

use std::time::Duration;

use report::{Better, Figure};

/// How long and how often each figure is measured.
pub struct Plan {
    pub seconds: u64,
    pub rounds: usize,
    pub pings: usize,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let plan = if quick {
        Plan {
            seconds: 1,
            rounds: 1,
            pings: 2_000,
        }
    } else {
        Plan {
            seconds: 5,
            rounds: 3,
            pings: 20_000,
        }
    };
    if let Err(e) = run(&plan) {
        eprintln!("peers benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run(plan: &Plan) -> Result<(), String> {
    setup::install_peers()?;
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

    for round in 0..plan.rounds {
        eprintln!("round {}/{}", round + 1, plan.rounds);
        // Interleaved, so a slow moment of the machine hits every peer alike.
        for peer in &bed.tcp {
            let gbits = load::iperf3(peer.iperf, plan.seconds)?;
            bulk.add(peer.name, gbits);
            let rate = load::connections_per_second(peer.echo, Duration::from_secs(plan.seconds))?;
            conns.add(peer.name, rate);
            let (a, b) = load::ping_pong(peer.echo, plan.pings)?;
            p50.add(peer.name, a);
            p99.add(peer.name, b);
        }
        for peer in &bed.http {
            rps.add(peer.name, load::wrk(peer.http, plan.seconds)?);
        }
    }
    figures.extend([bulk, conns, p50, p99, rps]);
    println!("{}", report::table(&figures));
    Ok(())
}
