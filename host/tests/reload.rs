//! `bindery standalone` reloads its policy and catalog while traffic flows:
//! no connection fails across router and selector swaps, a broken policy
//! leaves the previous generation serving, and a new router's decisions show
//! within a second.
mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::forward::{Server, Standalone, addrs, announce, announced, catalog_of, echo, entry};
use support::{guest, write_file};

/// The hostile test router in mode `ok` returns the candidates in order:
/// every connection and request to the first upstream.
const PIN: &str = "router: {plugin: pin.wasm, config: {mode: ok}}\n";
const ROUND_ROBIN: &str = "router: {plugin: builtin:round-robin}\n";

/// `bindery standalone` serving `catalog` (`endpoints` of them) under
/// `policy`, with the pinning router beside it as `pin.wasm`.
fn start(policy: &str, catalog: &str, endpoints: usize) -> Standalone {
    let pin = guest("hostile_router");
    Standalone::start(policy, catalog, &[("pin.wasm", &pin)], endpoints)
}

/// Replace `file` of the forwarder's directory (atomically, as kubelet
/// does for a ConfigMap), then give a reload the time to happen: what is
/// checked next would show a reload that should not have happened.
fn replace_and_pause(fwd: &Standalone, file: &str, text: &str) {
    write_file(&fwd.dir.path().join(file), text);
    std::thread::sleep(Duration::from_millis(400));
}

/// How long until `probe` holds, polled every 10 ms (a swap's visibility,
/// which the tests bound); panics after 5 s.
fn settle(what: &str, mut probe: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !probe() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what} not visible after 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// Upstreams that answer every connection with their index, then close.
fn upstreams(n: usize) -> Vec<Server> {
    (0..n).map(|i| Server::start(announce(i))).collect()
}

fn catalog(ups: &[Server], team: &str) -> String {
    let labels = format!("labels: {{team: {team}}}");
    catalog_of(&[entry("tcp://svc.test:7000", &addrs(ups), &labels)])
}

#[test]
fn swaps_under_load_drop_nothing_and_show_within_a_second() {
    let ups = upstreams(3);
    let rr = format!("endpointSelectors: [\"endpoint.labels.team == 'a'\"]\n{ROUND_ROBIN}");
    let pin = format!(
        "endpointSelectors: [\"endpoint.labels.team == 'a'\", \"endpoint.labels.team == 'b'\"]\n{PIN}"
    );
    let broken = format!("endpointSelectors: [\"endpoint.labels.team ==\"]\n{ROUND_ROBIN}");
    let fwd = start(&rr, &catalog(&ups, "a"), 1);
    let addr = fwd.addr;

    // Continuous load from two threads for the whole test.
    let load = Load::start(2, |t| {
        // Irregular pauses, so the load never falls in step with the
        // test's own probes of the rotation.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ t;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            std::thread::sleep(Duration::from_micros(x % 2000));
            announced(addr).map(drop)
        }
    });

    let mut worst = Duration::ZERO;
    for round in 0..3 {
        // Router swap: pin everything to upstream 0.
        write_file(&fwd.dir.path().join("policy.yaml"), &pin);
        worst = worst.max(settle("the router swap", || {
            (0..20).all(|_| announced(addr).ok() == Some(0))
        }));
        // A broken policy is refused; the pinning router stays.
        replace_and_pause(&fwd, "policy.yaml", &broken);
        let got = announced(addr);
        assert_eq!(
            got.as_ref().ok(),
            Some(&0),
            "round {round}: broken policy must not replace the good one: {got:?}"
        );
        // Selector swap through the catalog: team b is still selected by `pin`.
        replace_and_pause(&fwd, "catalog.yaml", &catalog(&ups, "b"));
        assert_eq!(
            announced(addr).ok(),
            Some(0),
            "round {round}: catalog reload kept the endpoint"
        );
        // Back to round-robin (which selects only team a): restore both.
        write_file(&fwd.dir.path().join("catalog.yaml"), &catalog(&ups, "a"));
        write_file(&fwd.dir.path().join("policy.yaml"), &rr);
        worst = worst.max(settle("round-robin back", || {
            let seen: HashSet<usize> = (0..6).filter_map(|_| announced(addr).ok()).collect();
            seen.len() == 3
        }));
    }
    load.conclude("connections", worst);
}

/// Threads making attempts until stopped, counting what succeeded.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// `n` threads, the `t`th calling `make(t)`'s closure in a loop.
    fn start<F>(n: u64, make: impl Fn(u64) -> F) -> Load
    where
        F: FnMut() -> std::io::Result<()> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let threads = (0..n)
            .map(|t| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let mut attempt = make(t);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match attempt() {
                            Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                eprintln!("attempt failed: {e}");
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            threads,
        }
    }

    /// Stop, and check the promises: the load ran, nothing failed, and
    /// every swap showed within a second.
    fn conclude(self, what: &str, worst: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("load thread");
        }
        let (ok, failed) = (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        );
        eprintln!("{ok} {what}, {failed} failed; slowest swap visible after {worst:?}");
        assert!(ok > 100, "the load ran: {ok}");
        assert_eq!(failed, 0, "no {what} may fail across reloads");
        assert!(worst < Duration::from_secs(1), "a swap took {worst:?}");
    }
}

/// HTTP/1.1 upstreams that answer every request on a keep-alive connection
/// with their index.
fn http_upstreams(n: usize) -> Vec<Server> {
    (0..n)
        .map(|i| {
            Server::start(move |s| {
                let mut r = BufReader::new(s);
                while read_head(&mut r).is_ok() {
                    let body = format!("{i}\n");
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if r.get_mut().write_all(resp.as_bytes()).is_err() {
                        break;
                    }
                }
            })
        })
        .collect()
}

/// Read one message head; returns its `content-length`.
fn read_head(r: &mut BufReader<TcpStream>) -> std::io::Result<usize> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(length);
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
}

/// A keep-alive client connection to an http endpoint.
struct Http(BufReader<TcpStream>);

impl Http {
    fn open(addr: SocketAddr) -> std::io::Result<Http> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Http(BufReader::new(s)))
    }

    /// Which upstream answered one request; an error for anything but 200.
    fn ask(&mut self) -> std::io::Result<usize> {
        self.0
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nhost: web.test\r\n\r\n")?;
        let mut status = String::new();
        self.0.read_line(&mut status)?;
        // The status line is read; the rest of the head follows.
        let length = read_head(&mut self.0)?;
        let mut body = vec![0u8; length];
        self.0.read_exact(&mut body)?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!(
                "{} {:?}",
                status.trim(),
                String::from_utf8_lossy(&body)
            )));
        }
        String::from_utf8_lossy(&body)
            .trim()
            .parse()
            .map_err(|_| std::io::Error::other(format!("bad body {body:?}")))
    }
}

#[test]
fn http_requests_and_open_connections_live_through_swaps() {
    let ups = http_upstreams(3);
    // A connection that lives through every swap.
    let echo = Server::start(echo);
    let catalog = catalog_of(&[
        entry("http://web.test:8080", &addrs(&ups), ""),
        entry("tcp://echo.test:7001", &[echo.addr], ""),
    ]);
    let broken = "router: {plugin: missing.wasm}\n";
    let fwd = start(ROUND_ROBIN, &catalog, 2);
    let (web, echo_at) = (
        fwd.endpoint("http://web.test:8080"),
        fwd.endpoint("tcp://echo.test:7001"),
    );

    // Requests on keep-alive connections and on new ones, for the whole test.
    let load = Load::start(2, |t| {
        let mut conn: Option<Http> = None;
        let mut n = 0u64;
        move || {
            n += 1;
            // Thread 0 reconnects every 50 requests, thread 1 never.
            if t == 0 && n.is_multiple_of(50) {
                conn = None;
            }
            std::thread::sleep(Duration::from_micros(300));
            let c = match conn.as_mut() {
                Some(c) => c,
                None => conn.insert(Http::open(web)?),
            };
            let r = c.ask().map(drop);
            if r.is_err() {
                conn = None;
            }
            r
        }
    });

    // One tcp connection opened before the first swap, used after each.
    let mut held = TcpStream::connect(echo_at).expect("connect echo");
    held.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut probe = Http::open(web).expect("probe connection");
    // Six requests on the probe connection, all answered, as `want`ed.
    let answers = |probe: &mut Http, want: &dyn Fn(&[usize]) -> bool| {
        let seen: Vec<usize> = (0..6).filter_map(|_| probe.ask().ok()).collect();
        seen.len() == 6 && want(&seen)
    };
    let mut worst = Duration::ZERO;
    for round in 0..3u8 {
        write_file(&fwd.dir.path().join("policy.yaml"), PIN);
        worst = worst.max(settle("the router swap", || {
            answers(&mut probe, &|s| s.iter().all(|&i| i == 0))
        }));
        replace_and_pause(&fwd, "policy.yaml", broken);
        assert_eq!(
            probe.ask().ok(),
            Some(0),
            "round {round}: the broken policy replaced the good one"
        );
        write_file(&fwd.dir.path().join("policy.yaml"), ROUND_ROBIN);
        worst = worst.max(settle("round-robin back", || {
            answers(&mut probe, &|s| s.iter().collect::<HashSet<_>>().len() == 3)
        }));
        let msg = [round; 1000];
        held.write_all(&msg)
            .expect("the held connection still sends");
        let mut back = [0u8; 1000];
        held.read_exact(&mut back)
            .expect("the held connection still answers");
        assert_eq!(back, msg);
    }
    load.conclude("requests", worst);
}
