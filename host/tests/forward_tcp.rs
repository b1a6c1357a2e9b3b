//! The TCP data plane through real loopback sockets: an in-process
//! forwarder serving one `tcp://` endpoint in front of real upstreams
//! (threads with std sockets, and redis-server), driven by real clients.
mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::forward::{
    Harness, Server, Standalone, addrs, ask, catalog, closed_addr, closed_by_peer,
    echo_with_digest, finish, free_port, hold, hold_from, http_get, on_free_ports, pin_ports,
    tagged, tagged_servers,
};
use support::{PATIENCE, guest, tools, wait_for};

const ROUND_ROBIN: &str = "router: {plugin: builtin:round-robin}";

fn count(tags: impl IntoIterator<Item = usize>) -> HashMap<usize, usize> {
    let mut m = HashMap::new();
    for t in tags {
        *m.entry(t).or_insert(0) += 1;
    }
    m
}

/// Each of `upstreams` got `each` connections, give or take one per
/// forwarder thread (the bound of a rotation per thread; the endpoint's
/// shared turn keeps it exact).
fn assert_even(counts: &HashMap<usize, usize>, upstreams: usize, each: usize, h: &Harness) {
    let slack = h.forwarder.threads();
    for u in 0..upstreams {
        let got = counts.get(&u).copied().unwrap_or(0);
        assert!(
            got.abs_diff(each) <= slack,
            "upstream {u} got {got} connections, not {each} give or take {slack}: {counts:?}"
        );
    }
}

// ---------------------------------------------------------------- bulk ----

const MIB: usize = 1 << 20;
const CHUNKS: usize = 1024; // 1 GiB

/// 1 MiB of xorshift noise; chunk `i` is it with `i` stamped in front, so a
/// lost, repeated or reordered chunk changes the digest.
fn noise() -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..MIB / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect()
}

#[test]
fn one_gibibyte_each_way_is_byte_exact_and_the_fin_reaches_the_upstream() {
    let upstream = Server::start(echo_with_digest);
    let h = Harness::start(
        ROUND_ROBIN,
        &catalog("tcp://bulk.test:9000", &[upstream.addr], ""),
        &[],
    );
    let mut client = TcpStream::connect(h.addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.set_write_timeout(Some(PATIENCE)).unwrap();

    // The reply: the echo (hashed as it comes), then the upstream's digest
    // of what it received, written only after it saw our FIN.
    let mut reader = client.try_clone().unwrap();
    let receiver = std::thread::spawn(move || {
        let mut hash = Sha256::new();
        let mut total = 0usize;
        let mut pending: Vec<u8> = Vec::with_capacity(2 * 64 * 1024);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).expect("reading the reply");
            if n == 0 {
                break;
            }
            total += n;
            pending.extend_from_slice(&buf[..n]);
            if pending.len() > 32 {
                let keep = pending.len() - 32;
                hash.update(&pending[..keep]);
                pending.drain(..keep);
            }
        }
        (hash.finalize().to_vec(), total, pending)
    });

    let mut block = noise();
    let mut sent = Sha256::new();
    for i in 0..CHUNKS {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        sent.update(&block);
        client.write_all(&block).unwrap();
    }
    // Half-close: the upstream must see EOF while our read side stays open.
    client.shutdown(Shutdown::Write).unwrap();
    let sent = sent.finalize().to_vec();
    let (echoed, total, trailer) = receiver.join().unwrap();

    assert_eq!(
        total,
        CHUNKS * MIB + 32,
        "bytes back: the echo and a digest"
    );
    assert_eq!(echoed, sent, "upstream to client: the echo is byte-exact");
    assert_eq!(
        trailer, sent,
        "client to upstream: the upstream hashed exactly what was sent, and \
         its reply after our FIN reached us"
    );
    drop(client);
    let c = h.counters();
    wait_for(PATIENCE, "the connection to end", || c.active.get() == 0);
    assert_eq!(c.bytes_in.get(), (CHUNKS * MIB) as u64);
    assert_eq!(c.bytes_out.get(), (CHUNKS * MIB + 32) as u64);
}

#[test]
fn the_upstream_may_half_close_first_and_still_receive_everything() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let upstream = Server::start(move |mut s| {
        s.write_all(b"speak now\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    hash.update(&buf[..n]);
                    total += n;
                }
            }
        }
        let _ = tx.lock().unwrap().send((total, hash.finalize().to_vec()));
    });
    let h = Harness::start(
        ROUND_ROBIN,
        &catalog("tcp://listen.test:9013", &[upstream.addr], ""),
        &[],
    );
    let mut client = TcpStream::connect(h.addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut greeting = Vec::new();
    client.read_to_end(&mut greeting).unwrap();
    assert_eq!(
        greeting, b"speak now\n",
        "the upstream's FIN reaches the client"
    );
    // Our side is still open: 16 MiB after the upstream's FIN.
    let mut block = noise();
    let mut sent = Sha256::new();
    for i in 0..16 {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        sent.update(&block);
        client.write_all(&block).unwrap();
    }
    client.shutdown(Shutdown::Write).unwrap();
    let (total, digest) = rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(total, 16 * MIB);
    assert_eq!(digest, sent.finalize().to_vec());
}

// ------------------------------------------------------------ failover ----

#[test]
fn a_dead_pool_member_fails_no_connection_and_is_ejected() {
    let live = Server::start(tagged(1));
    let dead = closed_addr();
    let h = Harness::start(
        "forwarding: {ejectAfterFailures: 3, ejectSeconds: 600}",
        &catalog("tcp://failover.test:9001", &[dead, live.addr], ""),
        &[],
    );
    // One at a time: the dead member is tried until it is ejected.
    for i in 0..100 {
        let got = ask(h.addr).unwrap_or_else(|e| panic!("connection {i} failed: {e}"));
        assert_eq!(got, 1);
    }
    let c = h.counters();
    assert_eq!(
        c.connect_failures.get(),
        3,
        "tried until ejectAfterFailures, then never while ejected"
    );
    assert_eq!(c.ejections.get(), 1, "the ejection is counted");
    assert_eq!(c.unreachable.get(), 0);
    let ups = h.upstreams();
    assert!(
        !ups[0].healthy(Instant::now()),
        "the dead member is ejected"
    );
    assert!(ups[1].healthy(Instant::now()));

    // A burst of concurrent connections: none fails either.
    let burst: Vec<_> = (0..100)
        .map(|_| {
            let addr = h.addr;
            std::thread::spawn(move || ask(addr))
        })
        .collect();
    let failed = burst
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|r| r.as_ref().ok() != Some(&1))
        .count();
    assert_eq!(failed, 0, "no connection may fail while one member is up");
    assert_eq!(c.connect_failures.get(), 3);
    assert_eq!(live.accepted(), 200);
}

/// A client that speaks first, and even closes its side, before the
/// forwarder is done connecting: its bytes are read at once and sent with
/// the upstream's handshake, and a refused candidate loses none of them.
#[test]
fn bytes_sent_before_the_upstream_answers_reach_the_next_candidate_whole() {
    let live = Server::start(echo_with_digest);
    let dead = closed_addr();
    let h = Harness::start(
        "forwarding: {ejectAfterFailures: 1000}",
        &catalog("tcp://early.test:9001", &[dead, live.addr], ""),
        &[],
    );
    let request: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    // The echo, then the digest of what the upstream read.
    let mut expected = request.clone();
    expected.extend_from_slice(&Sha256::digest(&request));
    for i in 0..20 {
        let mut s = TcpStream::connect(h.addr).unwrap();
        s.write_all(&request).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back)
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert!(
            back == expected,
            "connection {i}: {} bytes came back",
            back.len()
        );
    }
    let c = h.counters();
    assert!(
        c.connect_failures.get() >= 5,
        "round-robin put the refusing member first about every other time: {}",
        c.connect_failures.get()
    );
    assert_eq!(c.unreachable.get(), 0);
    assert_eq!(live.accepted(), 20);
}

/// A listener that never accepts, its queue filled: connecting to it hangs
/// (the kernel drops the SYNs), as with an upstream behind a black hole.
fn black_hole() -> (socket2::Socket, Vec<TcpStream>) {
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        fillers.push(s);
        assert!(fillers.len() < 64, "the accept queue never filled");
    }
    (l, fillers)
}

#[test]
fn a_connect_timeout_falls_through_to_the_next_member() {
    let (hole, _fillers) = black_hole();
    let hole_addr = hole.local_addr().unwrap().as_socket().unwrap();
    let live = Server::start(tagged(1));
    let h = Harness::start(
        "forwarding: {connectTimeoutMs: 300, ejectAfterFailures: 2, ejectSeconds: 600}",
        &catalog("tcp://slow.test:9014", &[hole_addr, live.addr], ""),
        &[],
    );
    for i in 0..10 {
        let got = ask(h.addr).unwrap_or_else(|e| panic!("connection {i} failed: {e}"));
        assert_eq!(got, 1);
    }
    let c = h.counters();
    assert_eq!(c.connect_failures.get(), 2, "timed out until ejected");
    assert_eq!(c.ejections.get(), 1);
    assert_eq!(c.unreachable.get(), 0);
}

// ------------------------------------------------------------- routers ----

#[test]
fn round_robin_spreads_evenly() {
    let servers = tagged_servers(3);
    let h = Harness::start(
        ROUND_ROBIN,
        &catalog("tcp://rr.test:9002", &addrs(&servers), ""),
        &[],
    );
    let tags = count((0..30).map(|_| ask(h.addr).unwrap()));
    assert_even(&tags, 3, 10, &h);
    let accepted: Vec<usize> = servers.iter().map(Server::accepted).collect();
    assert_eq!(
        accepted,
        vec![tags[&0], tags[&1], tags[&2]],
        "each connection reached the upstream it was routed to"
    );
}

#[test]
fn least_connections_sends_new_connections_to_the_least_loaded() {
    let servers = tagged_servers(3);
    let h = Harness::start(
        "router: {plugin: builtin:least-connections}",
        &catalog("tcp://lc.test:9003", &addrs(&servers), ""),
        &[],
    );
    let mut held: Vec<(TcpStream, usize)> = (0..6).map(|_| hold(h.addr).unwrap()).collect();
    assert_eq!(
        count(held.iter().map(|c| c.1)),
        HashMap::from([(0, 2), (1, 2), (2, 2)])
    );
    // Free upstream 0 entirely: the next two connections both go there,
    // where round-robin would spread them.
    let (freed, kept): (Vec<_>, Vec<_>) = held.drain(..).partition(|c| c.1 == 0);
    held = kept;
    for (s, _) in freed {
        finish(s).unwrap();
    }
    let zero = servers[0].addr.to_string();
    h.await_upstreams("upstream 0 to be idle", |u| {
        u.iter().any(|u| u.address == zero && u.active() == 0)
    });
    for _ in 0..2 {
        let c = hold(h.addr).unwrap();
        assert_eq!(c.1, 0, "the least loaded upstream takes the connection");
        held.push(c);
    }
    // All at 2 again: the next three spread over all three.
    let next: HashSet<usize> = (0..3)
        .map(|_| {
            let c = hold(h.addr).unwrap();
            let tag = c.1;
            held.push(c);
            tag
        })
        .collect();
    assert_eq!(next, HashSet::from([0, 1, 2]));
    for (s, _) in held {
        finish(s).unwrap();
    }
}

#[test]
fn consistent_hash_keeps_each_client_ip_on_one_upstream() {
    let servers = tagged_servers(3);
    let h = Harness::start(
        "router: {plugin: builtin:consistent-hash}",
        &catalog("tcp://ch.test:9004", &addrs(&servers), ""),
        &[],
    );
    let sources: Vec<IpAddr> = (10..50)
        .map(|x| IpAddr::V4(Ipv4Addr::new(127, 0, 0, x)))
        .collect();
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    // Round after round, so other clients' traffic comes in between.
    for _ in 0..3 {
        for &ip in &sources {
            let (s, tag) = hold_from(ip, h.addr).unwrap();
            finish(s).unwrap();
            let first = *seen.entry(ip).or_insert(tag);
            assert_eq!(first, tag, "{ip} moved from upstream {first} to {tag}");
        }
    }
    let spread = count(seen.values().copied());
    assert_eq!(
        spread.len(),
        3,
        "40 client IPs spread over all 3 upstreams: {spread:?}"
    );
}

// --------------------------------------------------------------- redis ----

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = tools::on_path("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn redis_stat(port: u16, field: &str) -> u64 {
    redis_cli(port, &["info", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO stats"))
}

#[test]
fn redis_benchmark_through_the_forwarder_has_no_errors() {
    let port = free_port();
    let server = Killed(
        tools::on_path("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    wait_for(PATIENCE, "redis-server to answer", || {
        tools::on_path("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
    });
    let h = Harness::start(
        ROUND_ROBIN,
        &catalog(
            "tcp://cache.test:6379",
            &[SocketAddr::from(([127, 0, 0, 1], port))],
            "",
        ),
        &[],
    );
    let fwd = h.addr.port();
    let before = redis_stat(port, "total_commands_processed");

    let requests = 20_000;
    let out = tools::on_path("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &fwd.to_string()])
        .args(["-n", &requests.to_string(), "-c", "20", "-P", "4"])
        // redis-benchmark 7 stops at the first error reply, with a failure.
        .args(["-t", "set,get,incr,lpush", "--csv"])
        .output()
        .expect("redis-benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(out.status.success(), "redis-benchmark failed: {stderr}");
    assert!(
        !format!("{stdout}{stderr}").to_lowercase().contains("error"),
        "redis-benchmark reported errors:\n{stdout}\n{stderr}"
    );
    for test in ["SET", "GET", "INCR", "LPUSH"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("\"{test}\""))),
            "no {test} result in:\n{stdout}"
        );
    }
    let processed = redis_stat(port, "total_commands_processed") - before;
    assert!(
        processed >= 4 * requests,
        "redis-server processed {processed} commands, expected at least {}",
        4 * requests
    );
    assert!(h.counters().accepted.get() >= 20);
    assert_eq!(h.counters().unreachable.get(), 0);

    // A SET through the forwarder reads back the same both ways.
    let value = format!("bindery-{}-{:?}", std::process::id(), Instant::now());
    assert_eq!(redis_cli(fwd, &["set", "bindery:key", &value]), "OK");
    assert_eq!(redis_cli(fwd, &["get", "bindery:key"]), value);
    assert_eq!(redis_cli(port, &["get", "bindery:key"]), value);
    drop(server);
}

// ------------------------------------------------- limits and lifecycle ----

/// Serves like [`tagged`], and tells when it saw the client's side close.
fn tagged_reporting_eof(index: usize, eofs: Arc<AtomicUsize>) -> Server {
    Server::start(move |mut s| {
        s.write_all(format!("{index}\n").as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                eofs.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

#[test]
fn idle_timeout_closes_idle_connections_only() {
    let eofs = Arc::new(AtomicUsize::new(0));
    let upstream = tagged_reporting_eof(0, eofs.clone());
    let h = Harness::start(
        "forwarding: {idleTimeoutSeconds: 1}",
        &catalog("tcp://idle.test:9005", &[upstream.addr], ""),
        &[],
    );
    // Bytes every 50 ms for three idle timeouts: the connection lives.
    let (mut busy, _) = hold(h.addr).unwrap();
    let start = Instant::now();
    let mut echo = [0u8; 1];
    while start.elapsed() < Duration::from_secs(3) {
        busy.write_all(b"x").unwrap();
        busy.read_exact(&mut echo).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    finish(busy).unwrap();
    assert_eq!(h.counters().idle_closed.get(), 0);

    // Silent: the forwarder closes both sides.
    let (mut idle, _) = hold(h.addr).unwrap();
    assert!(
        closed_by_peer(&mut idle),
        "the idle connection was not closed within {PATIENCE:?}"
    );
    wait_for(PATIENCE, "the upstream to see the close", || {
        eofs.load(Ordering::SeqCst) == 2
    });
    // Counted once both sockets are closed, so it may trail the close.
    let c = h.counters();
    wait_for(PATIENCE, "the idle close to be counted", || {
        c.idle_closed.get() >= 1
    });
    wait_for(PATIENCE, "the connection to end", || c.active.get() == 0);
    assert_eq!(c.idle_closed.get(), 1);
}

#[test]
fn max_connections_closes_the_excess_and_counts_it() {
    let upstream = Server::start(tagged(0));
    let h = Harness::start(
        "forwarding: {maxConnections: 2}",
        &catalog("tcp://limit.test:9006", &[upstream.addr], ""),
        &[],
    );
    let (a, _) = hold(h.addr).unwrap();
    let (b, _) = hold(h.addr).unwrap();
    let c = h.counters();
    assert_eq!(c.active.get(), 2);
    assert!(
        refused_over_limit(h.addr),
        "the third connection is closed unanswered"
    );
    assert_eq!(c.over_limit.get(), 1);
    assert_eq!(
        upstream.accepted(),
        2,
        "the excess never reached the upstream"
    );

    // A slot frees when a connection ends.
    finish(a).unwrap();
    wait_for(PATIENCE, "the first connection to end", || {
        c.active.get() == 1
    });
    let (d, _) = hold(h.addr).expect("a freed slot takes a new connection");
    assert_eq!(c.over_limit.get(), 1);
    finish(b).unwrap();
    finish(d).unwrap();
}

/// A connection that the forwarder closes on accept, unanswered.
fn refused_over_limit(addr: SocketAddr) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn max_connections_follows_a_policy_reload() {
    let upstream = Server::start(tagged(0));
    let mut h = Harness::start(
        "forwarding: {maxConnections: 1}",
        &catalog("tcp://relimit.test:9015", &[upstream.addr], ""),
        &[],
    );
    let c = h.counters();
    let mut held = vec![hold(h.addr).unwrap().0];
    assert!(refused_over_limit(h.addr));
    assert_eq!(c.over_limit.get(), 1);

    h.reload("forwarding: {maxConnections: 3}");
    held.push(hold(h.addr).expect("raised limit: second").0);
    held.push(hold(h.addr).expect("raised limit: third").0);
    assert!(refused_over_limit(h.addr), "the fourth is over 3");
    assert_eq!(c.over_limit.get(), 2);

    // Lowered below what is in flight: nothing is cut, nothing new enters
    // until the count is under the new limit.
    h.reload("forwarding: {maxConnections: 2}");
    assert!(refused_over_limit(h.addr));
    finish(held.pop().unwrap()).unwrap();
    wait_for(PATIENCE, "one connection to end", || c.active.get() == 2);
    assert!(refused_over_limit(h.addr), "2 in flight, limit 2");
    finish(held.pop().unwrap()).unwrap();
    wait_for(PATIENCE, "another connection to end", || {
        c.active.get() == 1
    });
    held.push(hold(h.addr).expect("1 in flight, limit 2").0);
    assert_eq!(c.over_limit.get(), 4);
    for s in held {
        finish(s).unwrap();
    }
}

#[test]
fn drain_finishes_connections_in_flight_and_refuses_new_ones() {
    let upstream = Server::start(echo_with_digest);
    let h = Harness::start(
        "forwarding: {drainSeconds: 60}",
        &catalog("tcp://drain.test:9007", &[upstream.addr], ""),
        &[],
    );
    let mut inflight = TcpStream::connect(h.addr).unwrap();
    inflight.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut echo = [0u8; 6];
    inflight.write_all(b"before").unwrap();
    inflight.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"before");

    let drain = start_drain(&h);

    // The connection in flight still works, and the drain waits for it.
    inflight.write_all(b"during").unwrap();
    inflight.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"during");
    assert!(
        !drain.is_finished(),
        "the drain must wait for the connection"
    );
    inflight.shutdown(Shutdown::Write).unwrap();
    let mut digest = Vec::new();
    inflight.read_to_end(&mut digest).unwrap();
    assert_eq!(digest, Sha256::digest(b"beforeduring").to_vec());
    assert!(
        h.rt.block_on(drain).unwrap(),
        "every connection finished within drainSeconds"
    );
}

/// Start the forwarder's drain (drainSeconds of the policy) and wait until
/// it refuses new connections; the handle says whether everything finished.
fn start_drain(h: &Harness) -> tokio::task::JoinHandle<bool> {
    let grace = h.snapshot.policy.loaded.policy.forwarding.drain();
    let forwarder = h.forwarder.clone();
    let drain = h.rt.spawn(async move { forwarder.drain(grace).await });
    wait_for(
        PATIENCE,
        "new connections to be refused",
        || matches!(TcpStream::connect(h.addr), Err(e) if e.kind() == ErrorKind::ConnectionRefused),
    );
    drain
}

/// An HTTP upstream that answers any request with `101 Switching
/// Protocols` and then echoes bytes until the client's FIN.
fn switch_then_echo(mut s: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read_exact(&mut byte).is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let switched =
        b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n";
    if s.write_all(switched).is_err() {
        return;
    }
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

#[test]
fn drain_waits_for_an_upgraded_http_tunnel() {
    let upstream = Server::start(switch_then_echo);
    let h = Harness::start(
        "forwarding: {drainSeconds: 60}",
        &catalog("http://ws.test:9010", &[upstream.addr], ""),
        &[],
    );
    let mut tunnel = TcpStream::connect(h.addr).unwrap();
    tunnel.set_read_timeout(Some(PATIENCE)).unwrap();
    tunnel
        .write_all(b"GET /ws HTTP/1.1\r\nhost: ws.test:9010\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tunnel.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    let mut echo = [0u8; 6];
    tunnel.write_all(b"before").unwrap();
    tunnel.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"before");

    let drain = start_drain(&h);
    // The tunnel still carries bytes, and the drain waits for it.
    tunnel.write_all(b"during").unwrap();
    tunnel.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"during");
    assert!(!drain.is_finished(), "the drain must wait for the tunnel");
    tunnel.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    tunnel.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        h.rt.block_on(drain).unwrap(),
        "the tunnel ended within drainSeconds"
    );
}

#[test]
fn drain_gives_up_after_drain_seconds() {
    let upstream = Server::start(tagged(0));
    let h = Harness::start(
        "forwarding: {drainSeconds: 1}",
        &catalog("tcp://stuck.test:9008", &[upstream.addr], ""),
        &[],
    );
    let (held, _) = hold(h.addr).unwrap();
    let grace = h.snapshot.policy.loaded.policy.forwarding.drain();
    let forwarder = h.forwarder.clone();
    let finished = h.rt.block_on(async move { forwarder.drain(grace).await });
    assert!(!finished, "a connection that never ends outlives the drain");
    drop(held);
}

// ------------------------------------------------------ health checks ----

fn tag_of(h: &Harness, addr: SocketAddr) -> usize {
    let addr = addr.to_string();
    h.upstreams()
        .iter()
        .position(|u| u.address == addr)
        .expect("upstream in the endpoint")
}

#[test]
fn tcp_health_checks_take_a_dead_upstream_out_and_bring_it_back() {
    let live = Server::start(tagged(0));
    let down = closed_addr();
    let h = Harness::start(
        // Passive ejection off: only the probes decide.
        "forwarding: {ejectAfterFailures: 1000000, healthCheck: {type: tcp, intervalSeconds: 1, \
         unhealthyAfter: 2, healthyAfter: 2}}",
        &catalog("tcp://probe.test:9009", &[live.addr, down], ""),
        &[],
    );
    let i = tag_of(&h, down);
    h.await_upstreams("the dead upstream to be marked down", |u| {
        !u[i].healthy(Instant::now())
    });
    for _ in 0..20 {
        assert_eq!(ask(h.addr).unwrap(), 0);
    }
    assert_eq!(
        h.counters().connect_failures.get(),
        0,
        "an upstream marked down is not tried while another is up"
    );

    let back = Server::on(down, tagged(1));
    h.await_upstreams("the recovered upstream to be marked up", |u| {
        u[i].healthy(Instant::now())
    });
    let tags = count((0..20).map(|_| ask(h.addr).unwrap()));
    assert_even(&tags, 2, 10, &h);
    drop(back);
}

/// Answers `GET /healthz` with 200 or, when `sick`, 503 (404 for any other
/// path); any other first line with its index.
fn http_health_server(index: usize, sick: Arc<AtomicBool>, probes: Arc<AtomicUsize>) -> Server {
    Server::start(move |mut s| {
        let mut line = String::new();
        if BufReader::new(&s).read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let reply = if line.starts_with("GET /healthz ") {
            probes.fetch_add(1, Ordering::SeqCst);
            if sick.load(Ordering::SeqCst) {
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".to_string()
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_string()
            }
        } else if line.starts_with("GET ") {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_string()
        } else {
            format!("{index}\n")
        };
        let _ = s.write_all(reply.as_bytes());
    })
}

/// Send a line, read the answering upstream's index.
fn ask_line(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"hello\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply.trim().parse().unwrap_or_else(|_| panic!("{reply:?}"))
}

#[test]
fn http_health_checks_from_endpoint_metadata_follow_the_status() {
    let sick = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(AtomicUsize::new(0));
    let steady = http_health_server(0, Arc::new(AtomicBool::new(false)), Arc::default());
    let flaky = http_health_server(1, sick.clone(), probes.clone());
    // The policy probes nothing; the endpoint's metadata turns http on.
    let h = Harness::start(
        "forwarding: {ejectAfterFailures: 1000000, healthCheck: {type: none, unhealthyAfter: 2, healthyAfter: 2}}",
        &catalog(
            "tcp://web.test:9010",
            &[steady.addr, flaky.addr],
            "\"health.bindery.dev/type\": http, \"health.bindery.dev/path\": /healthz, \
             \"health.bindery.dev/interval\": \"1\"",
        ),
        &[],
    );
    let i = tag_of(&h, flaky.addr);
    wait_for(PATIENCE, "probes of /healthz", || {
        probes.load(Ordering::SeqCst) >= 2
    });
    assert!(h.upstreams()[i].healthy(Instant::now()), "200 is healthy");

    sick.store(true, Ordering::SeqCst);
    h.await_upstreams("503 to mark the upstream down", |u| {
        !u[i].healthy(Instant::now())
    });
    for _ in 0..10 {
        assert_eq!(ask_line(h.addr), 0);
    }

    sick.store(false, Ordering::SeqCst);
    h.await_upstreams("200 to bring the upstream back", |u| {
        u[i].healthy(Instant::now())
    });
    let tags = count((0..10).map(|_| ask_line(h.addr)));
    assert_even(&tags, 2, 5, &h);
}

// ----------------------------------------------------- hostile router ----

fn hostile_router_falls_back(mode: &str, url: &str) {
    let servers = tagged_servers(3);
    let wasm = guest("hostile_router");
    // Plugin metrics are per file name: one name per test.
    let file = format!("hostile-{mode}.wasm");
    let h = Harness::start(
        &format!("router: {{plugin: {file}, config: {{mode: {mode}}}, limits: {{timeoutMs: 50}}}}"),
        &catalog(url, &addrs(&servers), ""),
        &[(&file, &wasm)],
    );
    let tags: Vec<usize> = (0..30)
        .map(|i| ask(h.addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    assert_eq!(
        count(tags).len(),
        3,
        "round-robin answered for the failing router"
    );
    assert_eq!(h.router_fallbacks(), 30, "every fallback is counted");
    assert_eq!(h.counters().rejected.get(), 0);
}

#[test]
fn a_trapping_router_falls_back_to_round_robin() {
    hostile_router_falls_back("trap", "tcp://trap.test:9011");
}

#[test]
fn a_looping_router_falls_back_to_round_robin() {
    hostile_router_falls_back("loop", "tcp://loop.test:9012");
}

// ---------------------------------------------------- the binary, end to end ----

#[test]
fn standalone_fails_over_and_reports_the_ejection_on_metrics() {
    let live = Server::start(tagged(1));
    let dead = closed_addr();
    let port = free_port();
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let fwd = Standalone::start_with(
        &pin_ports(
            "forwarding: {ejectAfterFailures: 2, ejectSeconds: 600}",
            port,
            1,
        ),
        &catalog("tcp://gw.test:9020", &[dead, live.addr], ""),
        &[],
        1,
        &["--listen", "127.0.0.1", "--admin", &admin.to_string()],
    );
    assert_eq!(
        fwd.lines[0].trim(),
        format!("tcp://gw.test:9020 -> 127.0.0.1:{port}")
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    for i in 0..100 {
        let got = ask(addr).unwrap_or_else(|e| panic!("connection {i} failed: {e}"));
        assert_eq!(got, 1);
    }
    wait_for(PATIENCE, "the admin server", || {
        TcpStream::connect(admin).is_ok()
    });
    let (status, metrics) = http_get(admin, "admin", "/metrics", &[]);
    assert_eq!(status, 200, "{metrics}");
    let value = |family: &str| -> Option<u64> {
        let prefix = format!("bindery_forward_{family}{{url=\"tcp://gw.test:9020\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
    };
    assert_eq!(
        value("upstream_ejections_total"),
        Some(1),
        "in /metrics:\n{metrics}"
    );
    assert_eq!(value("connect_failures_total"), Some(2));
    assert_eq!(value("connections_accepted_total"), Some(100));
    assert_eq!(value("unreachable_total"), Some(0));
}

// ------------------------------------------------------- one rotation ----

/// 12 connections, one after another, to an endpoint of 12 healthy
/// upstreams reach 12 different upstreams, whichever of the forwarder's
/// threads accepts each: round-robin turns once across the endpoint, not
/// once per thread.
#[test]
fn round_robin_is_one_rotation_across_four_threads() {
    let servers = tagged_servers(12);
    let catalog = catalog("tcp://gw.storage:7480", &addrs(&servers), "");
    let fwd = Standalone::start_env(
        &on_free_ports(ROUND_ROBIN, 1),
        &catalog,
        &[],
        1,
        &[],
        &[("BINDERY_FORWARD_THREADS", "4")],
    );
    for round in 0..2 {
        let tags: Vec<usize> = (0..12)
            .map(|i| ask(fwd.addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
            .collect();
        let distinct: HashSet<usize> = tags.iter().copied().collect();
        assert_eq!(distinct.len(), 12, "round {round}: {tags:?}");
    }
}
