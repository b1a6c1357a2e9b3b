//! `bindery standalone` reloads its policy and catalog while traffic flows:
//! no connection fails across router and selector swaps, a broken policy
//! leaves the previous generation serving, and a new router's decisions show
//! within a second.
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{bindery, guest};

/// Upstreams that answer every connection with their index, then close.
fn upstreams(n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
            let addr = l.local_addr().expect("addr");
            std::thread::spawn(move || {
                for s in l.incoming().flatten() {
                    std::thread::spawn(move || {
                        let mut s = s;
                        let _ = s.write_all(format!("{i}\n").as_bytes());
                    });
                }
            });
            addr
        })
        .collect()
}

struct Standalone(Child);

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `bindery standalone`, wait for its first line, return the address.
fn start(dir: &Path) -> (Standalone, SocketAddr) {
    let mut child = bindery()
        .args(["standalone", "--catalog", "catalog.yaml", "--policy", "."])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bindery standalone");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .rsplit(" -> ")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    (Standalone(child), addr)
}

/// Which upstream answered one connection.
fn ask(addr: SocketAddr) -> std::io::Result<usize> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    reply
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad reply {reply:?}")))
}

/// Replace a file atomically, as kubelet's symlink swap does for a ConfigMap.
fn write(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
}

fn catalog(ups: &[SocketAddr], team: &str) -> String {
    let list: Vec<String> = ups
        .iter()
        .map(|a| format!("{{address: \"{a}\"}}"))
        .collect();
    format!(
        "endpoints:\n  - url: tcp://svc.test:7000\n    labels: {{team: {team}}}\n    upstreams: [{}]\n",
        list.join(", ")
    )
}

/// Wait until every connection lands on `want`; returns how long it took.
fn settle(addr: SocketAddr, want: usize) -> Duration {
    let start = Instant::now();
    loop {
        if (0..20).all(|_| ask(addr).ok() == Some(want)) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "router swap not visible after 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn swaps_under_load_drop_nothing_and_show_within_a_second() {
    let ups = upstreams(3);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pin.wasm"), guest("hostile_router")).expect("plugin");
    let rr = "endpointSelectors: [\"endpoint.labels.team == 'a'\"]\nrouter: {plugin: builtin:round-robin}\n";
    // The test router in mode `ok` returns candidates in order: all to #0.
    let pin = "endpointSelectors: [\"endpoint.labels.team == 'a'\", \"endpoint.labels.team == 'b'\"]\nrouter: {plugin: pin.wasm, config: {mode: ok}}\n";
    let broken =
        "endpointSelectors: [\"endpoint.labels.team ==\"]\nrouter: {plugin: builtin:round-robin}\n";
    write(dir.path(), "policy.yaml", rr);
    write(dir.path(), "catalog.yaml", &catalog(&ups, "a"));
    let (_bindery, addr) = start(dir.path());

    // Continuous load from two threads for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let load: Vec<_> = (0..2)
        .map(|t| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                // Irregular pauses, so the load never falls in step with the
                // test's own probes of the rotation.
                let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ t;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    std::thread::sleep(Duration::from_micros(x % 2000));
                    match ask(addr) {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();

    let mut worst = Duration::ZERO;
    for round in 0..3 {
        // Router swap: pin everything to upstream 0.
        write(dir.path(), "policy.yaml", pin);
        worst = worst.max(settle(addr, 0));
        // A broken policy is refused; the pinning router stays.
        write(dir.path(), "policy.yaml", broken);
        std::thread::sleep(Duration::from_millis(400));
        let got = ask(addr);
        assert_eq!(
            got.as_ref().ok(),
            Some(&0),
            "round {round}: broken policy must not replace the good one: {got:?}"
        );
        // Selector swap through the catalog: team b is still selected by `pin`.
        write(dir.path(), "catalog.yaml", &catalog(&ups, "b"));
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(
            ask(addr).ok(),
            Some(0),
            "round {round}: catalog reload kept the endpoint"
        );
        // Back to round-robin (which selects only team a): restore both.
        write(dir.path(), "catalog.yaml", &catalog(&ups, "a"));
        write(dir.path(), "policy.yaml", rr);
        let start = Instant::now();
        loop {
            let seen: std::collections::HashSet<usize> =
                (0..6).filter_map(|_| ask(addr).ok()).collect();
            if seen.len() == 3 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "round-robin not back after 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        worst = worst.max(start.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().expect("load thread");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{ok} connections, {failed} failed; slowest swap visible after {worst:?}");
    assert!(ok > 100, "the load ran: {ok}");
    assert_eq!(failed, 0, "no connection may fail across reloads");
    assert!(worst < Duration::from_secs(1), "a swap took {worst:?}");
}
