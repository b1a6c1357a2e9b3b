//! Abuse cases against the real binary: one `bindery standalone` in front
//! of well-behaved and misbehaving upstreams, hostile clients sent at it,
//! and bad files written under it. A table: each row a case, the answer
//! expected, and what happened; every row runs (at once, on a thread each)
//! and the test fails listing every row whose answer differs.
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::forward::{Server, Standalone, catalog_of, closed_addr, entry, on_free_ports};
use support::{wait_for, write_file};

/// The forwarder's settings the rows rely on: a short response timeout and
/// a short first ejection; everything else is the default.
const POLICY: &str = "forwarding: {responseTimeoutSeconds: 3, ejectSeconds: 1}";

/// The request heads every recording upstream received.
type Seen = Arc<Mutex<Vec<String>>>;

struct World {
    fwd: Standalone,
    seen: Seen,
    admin: SocketAddr,
    flap: SocketAddr,
    flapping: Mutex<Option<Server>>,
}

impl World {
    fn at(&self, url: &str) -> SocketAddr {
        self.fwd.endpoint(url)
    }
}

/// What a client got back.
#[derive(Debug)]
enum Answer {
    Status(u16, String),
    /// The connection closed with no response.
    Closed,
    /// Nothing within the wait, the connection still open.
    Silent,
}

impl Answer {
    fn short(&self) -> String {
        match self {
            Answer::Status(s, _) => s.to_string(),
            Answer::Closed => "closed".into(),
            Answer::Silent => "no answer".into(),
        }
    }
}

/// Send `bytes` (each piece after `pause`) on a new connection to `addr`
/// and read the first response, waiting up to `wait` from the last piece.
fn exchange(addr: SocketAddr, pieces: &[&[u8]], pause: Duration, wait: Duration) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect to bindery");
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        if s.write_all(p).is_err() {
            break;
        }
    }
    read_answer(&mut s, wait)
}

fn read_answer(s: &mut TcpStream, wait: Duration) -> Answer {
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if complete(&got) {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if got.is_empty() {
                    return Answer::Silent;
                }
                break;
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&got).to_string();
    match text.split(' ').nth(1).and_then(|c| c.parse().ok()) {
        Some(code) if text.starts_with("HTTP/1.") => {
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default();
            Answer::Status(code, body)
        }
        _ => Answer::Closed,
    }
}

/// A whole response with a `content-length` body.
fn complete(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got).to_ascii_lowercase();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

fn get(addr: SocketAddr, host: &str, path: &str) -> Answer {
    let req = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    exchange(
        addr,
        &[req.as_bytes()],
        Duration::ZERO,
        Duration::from_secs(20),
    )
}

/// An HTTP/1.1 upstream that records each request head in `seen` and
/// answers `200` with the head it received as the body, keeping the
/// connection alive. Bodies are read by `content-length` or chunked.
fn recorder(seen: Seen) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |s| {
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        let mut w = s;
        loop {
            let mut head = String::new();
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == "\r\n" {
                    break;
                }
                head += &line;
            }
            seen.lock().unwrap().push(head.clone());
            let lower = head.to_ascii_lowercase();
            if lower.contains("transfer-encoding: chunked") {
                loop {
                    let mut size = String::new();
                    if r.read_line(&mut size).unwrap_or(0) == 0 {
                        return;
                    }
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0u8; n + 2];
                    if r.read_exact(&mut chunk).is_err() {
                        return;
                    }
                    if n == 0 {
                        break;
                    }
                }
            } else if let Some(n) = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
            {
                let mut body = vec![0u8; n];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{head}",
                head.len()
            );
            if w.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// An upstream that reads a request head and then does `then` with the
/// connection.
fn misbehaving(then: fn(TcpStream)) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |s| {
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        then(s)
    }
}

fn start() -> World {
    let seen: Seen = Arc::default();
    let web = [
        Server::start(recorder(seen.clone())),
        Server::start(recorder(seen.clone())),
    ];
    let garbage = Server::start(misbehaving(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 two hundred OK\r\n\r\n");
    }));
    let early = Server::start(misbehaving(drop));
    let endless = Server::start(misbehaving(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nx-a: 1\r\n");
        std::thread::sleep(Duration::from_secs(60));
    }));
    let huge = Server::start(misbehaving(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
        let line = format!("x-big: {}\r\n", "a".repeat(1000));
        for _ in 0..200 {
            if s.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_secs(60));
    }));
    let flapping = Server::start(|mut s| {
        let _ = s.write_all(b"up\n");
    });
    let flap = flapping.addr;
    let web_addrs: Vec<SocketAddr> = web.iter().map(|s| s.addr).collect();
    let catalog = catalog_of(&[
        entry("http://web.abuse:80", &web_addrs, ""),
        entry("http://garbage.abuse:80", &[garbage.leak()], ""),
        entry("http://early.abuse:80", &[early.leak()], ""),
        entry("http://endless.abuse:80", &[endless.leak()], ""),
        entry("http://huge.abuse:80", &[huge.leak()], ""),
        entry("http://refused.abuse:80", &[closed_addr()], ""),
        entry("tcp://flap.abuse:9000", &[flap], ""),
    ]);
    for s in web {
        s.leak();
    }
    let admin = SocketAddr::from(([127, 0, 0, 1], support::forward::free_port()));
    let fwd = Standalone::start_with(
        &on_free_ports(POLICY, 7),
        &catalog,
        &[],
        7,
        &["--admin", &admin.to_string()],
    );
    World {
        fwd,
        seen,
        admin,
        flap,
        flapping: Mutex::new(Some(flapping)),
    }
}

/// Every upstream of `url` healthy, as `/v1/endpoints` says.
fn healthy(w: &World, url: &str) -> bool {
    let (_, body) = support::forward::http_get(w.admin, "admin", "/v1/endpoints", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let e = v["endpoints"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["url"] == url).cloned())
        .unwrap_or_default();
    e["upstreams"]
        .as_array()
        .is_some_and(|u| !u.is_empty() && u.iter().all(|u| u["healthy"] == true))
}

/// A 502/504 whose body names the endpoint and no address.
fn names_endpoint(a: &Answer, host: &str) -> String {
    match a {
        Answer::Status(code, body) if body.contains(host) && !body.contains("127.0.0.") => {
            format!("{code} naming the endpoint")
        }
        Answer::Status(code, body) => format!("{code} with body {body:?}"),
        other => other.short(),
    }
}

fn refused(a: &Answer) -> String {
    match a {
        Answer::Status(400, _) | Answer::Closed => "400 or closed".into(),
        other => other.short(),
    }
}

fn web_head(w: &World, head: &str) -> Answer {
    exchange(
        w.at("http://web.abuse:80"),
        &[head.as_bytes()],
        Duration::ZERO,
        Duration::from_secs(20),
    )
}

type Case = fn(&World) -> String;

/// (case, expected answer, what does it)
fn table() -> Vec<(&'static str, &'static str, Case)> {
    vec![
        // Either answer is safe (RFC 9112 §6.1: refuse, or let the coding
        // win); what must not happen is a request hidden in the body
        // reaching the upstream, or both framings forwarded.
        (
            "smuggling: Content-Length and Transfer-Encoding",
            "nothing smuggled",
            |w| {
                let a = web_head(
                    w,
                    "POST /cl-te HTTP/1.1\r\nhost: web.abuse\r\ncontent-length: 40\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n",
                );
                let seen = w.seen.lock().unwrap().clone();
                let both = seen.iter().any(|h| {
                    let h = h.to_ascii_lowercase();
                    h.contains("/cl-te")
                        && h.contains("content-length")
                        && h.contains("transfer-encoding")
                });
                if seen.iter().any(|h| h.contains("/smuggled")) {
                    format!("{}, /smuggled reached the upstream", a.short())
                } else if both {
                    format!("{}, both framings forwarded", a.short())
                } else {
                    "nothing smuggled".into()
                }
            },
        ),
        (
            "smuggling: two different Content-Lengths",
            "400 or closed",
            |w| {
                refused(&web_head(
                    w,
                    "POST /cl-cl HTTP/1.1\r\nhost: web.abuse\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
                ))
            },
        ),
        ("smuggling: obs-fold header line", "400 or closed", |w| {
            refused(&web_head(
                w,
                "GET /fold HTTP/1.1\r\nhost: web.abuse\r\nx-a: 1\r\n folded\r\n\r\n",
            ))
        }),
        ("no Host", "400 or closed", |w| {
            refused(&web_head(w, "GET /nohost HTTP/1.1\r\n\r\n"))
        }),
        ("two Hosts", "400 or closed", |w| {
            refused(&web_head(
                w,
                "GET /twohosts HTTP/1.1\r\nhost: web.abuse\r\nhost: other\r\n\r\n",
            ))
        }),
        (
            "Connection: host",
            "200, Host forwarded",
            |w| match web_head(
                w,
                "GET /conn-host HTTP/1.1\r\nhost: web.abuse\r\nconnection: host, close\r\n\r\n",
            ) {
                Answer::Status(200, body)
                    if body.to_ascii_lowercase().contains("host: web.abuse") =>
                {
                    "200, Host forwarded".into()
                }
                Answer::Status(200, body) => format!("200, upstream got {body:?}"),
                other => other.short(),
            },
        ),
        (
            "client's X-Forwarded-Proto: https",
            "200, upstream sees http",
            |w| match web_head(
                w,
                "GET /xfp HTTP/1.1\r\nhost: web.abuse\r\nx-forwarded-proto: https\r\nconnection: close\r\n\r\n",
            ) {
                Answer::Status(200, body) => {
                    let b = body.to_ascii_lowercase();
                    if b.contains("x-forwarded-proto: http\r\n") && !b.contains("https") {
                        "200, upstream sees http".into()
                    } else {
                        format!("200, upstream got {body:?}")
                    }
                }
                other => other.short(),
            },
        ),
        ("CONNECT", "refused with a 4xx", |w| {
            match web_head(
                w,
                "CONNECT web.abuse:443 HTTP/1.1\r\nhost: web.abuse:443\r\n\r\n",
            ) {
                Answer::Status(code, _) if (400..500).contains(&code) => {
                    "refused with a 4xx".into()
                }
                other => other.short(),
            }
        }),
        ("oversized head: one 100 KiB header", "431", |w| {
            let head = format!(
                "GET /big HTTP/1.1\r\nhost: web.abuse\r\nx-big: {}\r\n\r\n",
                "a".repeat(100 * 1024)
            );
            web_head(w, &head).short()
        }),
        ("oversized head: 1 MiB of headers", "431 or closed", |w| {
            let many = "x-h: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1024 * 1024 / 84);
            match web_head(
                w,
                &format!("GET /many HTTP/1.1\r\nhost: web.abuse\r\n{many}\r\n"),
            ) {
                Answer::Status(431, _) | Answer::Closed => "431 or closed".into(),
                other => other.short(),
            }
        }),
        (
            "slow client: head a byte every 500 ms",
            "closed within 15 s",
            |w| {
                let head = b"GET /slow HTTP/1.1\r\nhost: web.abuse\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
                let mut s = TcpStream::connect(w.at("http://web.abuse:80")).expect("connect");
                let start = Instant::now();
                for b in head.iter() {
                    if s.write_all(&[*b]).is_err() || start.elapsed() > Duration::from_secs(25) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                let a = read_answer(&mut s, Duration::from_secs(1));
                if start.elapsed() < Duration::from_secs(15) && !matches!(a, Answer::Status(200, _))
                {
                    "closed within 15 s".into()
                } else {
                    format!("{} after {:?}", a.short(), start.elapsed())
                }
            },
        ),
        ("slow client: body stalls", "408 within 40 s", |w| {
            let mut s = TcpStream::connect(w.at("http://web.abuse:80")).expect("connect");
            let start = Instant::now();
            s.write_all(
                b"POST /stall HTTP/1.1\r\nhost: web.abuse\r\ncontent-length: 100\r\n\r\n0123456789",
            )
            .expect("write");
            let a = read_answer(&mut s, Duration::from_secs(40));
            match a {
                Answer::Status(408, _) => "408 within 40 s".into(),
                other => format!("{} after {:?}", other.short(), start.elapsed()),
            }
        }),
        (
            "client aborts mid-body (8 times)",
            "upstreams stay healthy, next GET 200",
            |w| {
                for _ in 0..8 {
                    let mut s = TcpStream::connect(w.at("http://web.abuse:80")).expect("connect");
                    let _ = s.write_all(b"POST /abort HTTP/1.1\r\nhost: web.abuse\r\ncontent-length: 100000\r\n\r\n");
                    let _ = s.write_all(&[b'x'; 1000]);
                    std::thread::sleep(Duration::from_millis(50));
                    let _ = s.shutdown(Shutdown::Both);
                }
                std::thread::sleep(Duration::from_millis(300));
                let ok = healthy(w, "http://web.abuse:80");
                let a = get(w.at("http://web.abuse:80"), "web.abuse", "/after-abort");
                match (ok, a) {
                    (true, Answer::Status(200, _)) => "upstreams stay healthy, next GET 200".into(),
                    (ok, a) => format!("healthy: {ok}, next GET {}", a.short()),
                }
            },
        ),
        (
            "broken chunked body (8 times)",
            "400 each, upstreams stay healthy",
            |w| {
                let mut answers = Vec::new();
                for _ in 0..8 {
                    let a = web_head(
                        w,
                        "POST /chunks HTTP/1.1\r\nhost: web.abuse\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab\r\nzz\r\n\r\n",
                    );
                    answers.push(a.short());
                }
                std::thread::sleep(Duration::from_millis(300));
                let ok = healthy(w, "http://web.abuse:80");
                if ok && answers.iter().all(|a| a == "400") {
                    "400 each, upstreams stay healthy".into()
                } else {
                    format!("{answers:?}, healthy: {ok}")
                }
            },
        ),
        (
            "upstream: garbage status line",
            "502 naming the endpoint",
            |w| {
                names_endpoint(
                    &get(w.at("http://garbage.abuse:80"), "garbage.abuse", "/"),
                    "garbage.abuse",
                )
            },
        ),
        (
            "upstream: closes before answering",
            "502 naming the endpoint",
            |w| {
                names_endpoint(
                    &get(w.at("http://early.abuse:80"), "early.abuse", "/"),
                    "early.abuse",
                )
            },
        ),
        (
            "upstream: a head that never ends",
            "504 naming the endpoint",
            |w| {
                names_endpoint(
                    &get(w.at("http://endless.abuse:80"), "endless.abuse", "/"),
                    "endless.abuse",
                )
            },
        ),
        (
            "upstream: a head over 64 KiB",
            "502 naming the endpoint",
            |w| {
                names_endpoint(
                    &get(w.at("http://huge.abuse:80"), "huge.abuse", "/"),
                    "huge.abuse",
                )
            },
        ),
        ("upstream: refused", "502 naming the endpoint", |w| {
            names_endpoint(
                &get(w.at("http://refused.abuse:80"), "refused.abuse", "/"),
                "refused.abuse",
            )
        }),
        (
            "upstream: flaps (down for 20 connections, then back)",
            "served again within 5 s",
            |w| {
                let flap = w.at("tcp://flap.abuse:9000");
                let greet = || {
                    let mut s = TcpStream::connect(flap).ok()?;
                    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                    let mut line = String::new();
                    BufReader::new(&mut s).read_line(&mut line).ok()?;
                    (line == "up\n").then_some(())
                };
                if greet().is_none() {
                    return "not served before the flap".into();
                }
                drop(w.flapping.lock().unwrap().take());
                for _ in 0..20 {
                    let _ = greet();
                }
                *w.flapping.lock().unwrap() = Some(Server::on(w.flap, |mut s| {
                    let _ = s.write_all(b"up\n");
                }));
                let back = Instant::now();
                while back.elapsed() < Duration::from_secs(30) {
                    if greet().is_some() {
                        let took = back.elapsed();
                        return if took < Duration::from_secs(5) {
                            "served again within 5 s".into()
                        } else {
                            format!("served again after {took:?}")
                        };
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                "not served 30 s after it came back".into()
            },
        ),
        (
            "bad files on reload",
            "each refused, the endpoints still served",
            reloads,
        ),
    ]
}

/// Bad files written under a `bindery standalone` of its own: each reload
/// is refused and reported, and what was served stays served; a later good
/// file is taken.
fn reloads(_: &World) -> String {
    let up = Server::start(|mut s| {
        let _ = s.write_all(b"up\n");
    });
    let catalog = catalog_of(&[
        entry(
            "tcp://kept.reload:7000",
            &[up.addr],
            "labels: {expose: \"yes\"}",
        ),
        entry("tcp://hidden.reload:7001", &[up.addr], ""),
    ]);
    let policy = on_free_ports(
        "endpointSelectors: [\"endpoint.labels.expose == 'yes'\"]",
        2,
    );
    let admin = SocketAddr::from(([127, 0, 0, 1], support::forward::free_port()));
    let fwd = Standalone::start_with(&policy, &catalog, &[], 1, &["--admin", &admin.to_string()]);
    let kept = fwd.endpoint("tcp://kept.reload:7000");
    let failures = || {
        let (_, text) = support::forward::http_get(admin, "admin", "/metrics", &[]);
        text.lines()
            .find_map(|l| {
                l.strip_prefix("bindery_reload_failed_total ")?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    let served = || {
        let (_, body) = support::forward::http_get(admin, "admin", "/v1/endpoints", &[]);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let urls: Vec<String> = v["endpoints"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|e| e["url"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        urls
    };
    let cases: [(&str, &str, String); 5] = [
        ("policy emptied", "policy.yaml", String::new()),
        (
            "policy truncated to comments",
            "policy.yaml",
            "# endpointSelectors:\n".into(),
        ),
        (
            "policy invalid YAML",
            "policy.yaml",
            "endpointSelectors: [\"true\"\n".into(),
        ),
        ("catalog emptied", "catalog.yaml", String::new()),
        (
            "catalog truncated mid-entry",
            "catalog.yaml",
            catalog[..catalog.len() / 2].to_string(),
        ),
    ];
    let mut answers = BTreeMap::new();
    for (what, file, text) in cases {
        let before = failures();
        write_file(&fwd.dir.path().join(file), &text);
        let start = Instant::now();
        let mut refused = false;
        while start.elapsed() < Duration::from_secs(10) {
            if failures() > before {
                refused = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let urls = served();
        let answer = match (refused, urls.as_slice()) {
            (true, [one]) if one == "tcp://kept.reload:7000" => "refused, kept".to_string(),
            (r, urls) => format!("refused: {r}, served {urls:?}"),
        };
        answers.insert(what, answer);
        // Back to the good files before the next case.
        let good = if file == "policy.yaml" {
            policy.clone()
        } else {
            catalog.clone()
        };
        write_file(&fwd.dir.path().join(file), &good);
        wait_for(Duration::from_secs(10), "the good file taken again", || {
            let (_, body) = support::forward::http_get(admin, "admin", "/v1/plugins", &[]);
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            v["last_failure"].is_null()
        });
    }
    let _ = TcpStream::connect(kept).expect("still served");
    if answers.values().all(|a| a == "refused, kept") {
        "each refused, the endpoints still served".into()
    } else {
        format!("{answers:?}")
    }
}

#[test]
fn abuse_cases_get_the_expected_answers() {
    let world = Arc::new(start());
    let rows = table();
    let handles: Vec<_> = rows
        .iter()
        .map(|&(name, _, case)| {
            let w = world.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || case(&w))
                .expect("thread")
        })
        .collect();
    let mut report = String::from("| case | expected | got |\n|---|---|---|\n");
    let mut wrong = Vec::new();
    for ((name, expected, _), h) in rows.iter().zip(handles) {
        let got = h.join().unwrap_or_else(|_| "panicked".into());
        report += &format!("| {name} | {expected} | {got} |\n");
        if got != *expected {
            wrong.push(*name);
        }
    }
    eprintln!("{report}");
    assert!(
        wrong.is_empty(),
        "{} rows differ: {wrong:?}\n{report}",
        wrong.len()
    );
}
