//! An `http://` endpoint of `bindery standalone` against clients and
//! upstreams that misbehave, on raw sockets on loopback (issue 25): a
//! client's fault is answered to it and never counted against an
//! upstream, ejection backs off per ejection and ends on a success, slow
//! heads and bodies are cut off, `Host` and forwarding headers are checked
//! and set, heads are bounded.
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::forward::{Server, Standalone, catalog_of, closed_addr, entry, free_port, pin_ports};
use support::{PATIENCE, wait_for};

const URL: &str = "http://rgw.storage:7480";
const HOST: &str = "rgw.storage:7480";

/// An HTTP/1.1 upstream that records every request head it reads (its body
/// read by `Content-Length` or chunked framing) and answers with what
/// `answer` gives, or closes when that is `None`.
struct Recorder {
    server: Server,
    heads: Arc<Mutex<Vec<String>>>,
}

type Answer = dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync;

impl Recorder {
    fn start(answer: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static) -> Recorder {
        Recorder::on(SocketAddr::from(([127, 0, 0, 1], 0)), answer)
    }

    fn on(
        addr: SocketAddr,
        answer: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> Recorder {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let seen = heads.clone();
        let server = Server::on(addr, move |s| serve(s, &seen, &*answer));
        Recorder { server, heads }
    }

    fn ok() -> Recorder {
        Recorder::start(|_| Some(ok_reply("ok")))
    }

    fn count(&self) -> usize {
        self.heads.lock().expect("heads").len()
    }

    fn last(&self) -> String {
        self.heads
            .lock()
            .expect("heads")
            .last()
            .cloned()
            .unwrap_or_default()
    }

    /// The values of header `name` in the last request head.
    fn seen(&self, name: &str) -> Vec<String> {
        self.last()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

fn ok_reply(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(mut s: TcpStream, heads: &Mutex<Vec<String>>, answer: &Answer) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = fill_until(&mut s, &mut buf, |b| find(b, b"\r\n\r\n")) else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let lower = head.to_ascii_lowercase();
        if let Some(n) = header_value(&lower, "content-length").and_then(|v| v.parse().ok()) {
            if fill_until(&mut s, &mut buf, |b| (b.len() >= n).then_some(n)).is_none() {
                return;
            }
            buf.drain(..n);
        } else if header_value(&lower, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let Some(end) = fill_until(&mut s, &mut buf, |b| find(b, b"0\r\n\r\n")) else {
                return;
            };
            buf.drain(..end + 5);
        }
        heads.lock().expect("heads").push(head.clone());
        match answer(&head) {
            Some(reply) => {
                if s.write_all(&reply).is_err() {
                    return;
                }
            }
            None => return,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Read into `buf` until `done` finds what it looks for; `None` at EOF.
fn fill_until(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> Option<usize>,
) -> Option<usize> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some(at) = done(buf) {
            return Some(at);
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn header_value<'a>(lower_head: &'a str, name: &str) -> Option<&'a str> {
    lower_head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
}

/// `bindery standalone` serving `URL` over `upstreams` with `forwarding`
/// (YAML flow-mapping entries), with its admin server.
struct Fwd {
    standalone: Standalone,
    addr: SocketAddr,
    admin: SocketAddr,
}

impl Fwd {
    fn start(upstreams: &[SocketAddr], forwarding: &str) -> Fwd {
        let port = free_port();
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let policy =
            format!("router: {{plugin: builtin:round-robin}}\nforwarding: {{{forwarding}}}\n");
        let standalone = Standalone::start_with(
            &pin_ports(&policy, port, 1),
            &catalog_of(&[entry(URL, upstreams, "")]),
            &[],
            1,
            &["--listen", "127.0.0.1", "--admin", &admin.to_string()],
        );
        Fwd {
            addr: standalone.endpoint(URL),
            standalone,
            admin,
        }
    }

    /// This endpoint's value of the counter `family` (without `_total`).
    fn metric(&self, family: &str) -> u64 {
        self.series(&format!("{family}_total"))
    }

    /// This endpoint's value of the series `name`.
    fn series(&self, name: &str) -> u64 {
        wait_for(PATIENCE, "the admin server", || {
            TcpStream::connect(self.admin).is_ok()
        });
        let (_, text) = exchange(
            self.admin,
            b"GET /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n",
        );
        let prefix = format!("bindery_forward_{name}{{url=\"{URL}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{text}"))
    }
}

/// Send `request` on a new connection and read the answer until the
/// connection closes (or 20 s pass): its status, if any, and all of it.
fn exchange(addr: SocketAddr, request: &[u8]) -> (Option<u16>, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The forwarder may answer and close before it read it all.
    let _ = s.write_all(request);
    read_reply(&mut s)
}

fn read_reply(s: &mut TcpStream) -> (Option<u16>, String) {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (status_of(&text), text)
}

fn status_of(text: &str) -> Option<u16> {
    text.strip_prefix("HTTP/1.")
        .and_then(|t| t.get(2..5))
        .and_then(|c| c.parse().ok())
}

/// `GET /` with `Connection: close` and `lines` (each ending in CRLF),
/// `Host: HOST` first unless `host` is false.
fn get(addr: SocketAddr, host: bool, lines: &str) -> (Option<u16>, String) {
    let host = if host {
        format!("host: {HOST}\r\n")
    } else {
        String::new()
    };
    let req = format!("GET / HTTP/1.1\r\n{host}{lines}connection: close\r\n\r\n");
    exchange(addr, req.as_bytes())
}

fn body_of(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or(text, |(_, b)| b)
}

// ------------------------------------------------------- client faults ----

#[test]
fn aborted_uploads_and_broken_chunked_bodies_are_the_client_s_fault() {
    let (a, b) = (Recorder::ok(), Recorder::ok());
    // One counted failure would eject an upstream for ten minutes.
    let fwd = Fwd::start(
        &[a.server.addr, b.server.addr],
        "ejectAfterFailures: 1, ejectSeconds: 600",
    );
    for _ in 0..4 {
        let mut s = TcpStream::connect(fwd.addr).expect("connect");
        let head = format!("POST /up HTTP/1.1\r\nhost: {HOST}\r\ncontent-length: 100000\r\n\r\n");
        s.write_all(head.as_bytes()).expect("head");
        s.write_all(&[b'x'; 1000]).expect("part of the body");
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    }
    for i in 0..4 {
        let req = format!(
            "POST /up HTTP/1.1\r\nhost: {HOST}\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
        );
        let (status, reply) = exchange(fwd.addr, req.as_bytes());
        assert_eq!(status, Some(400), "broken chunked body {i}: {reply:?}");
        assert!(body_of(&reply).contains(URL), "{reply:?}");
    }
    wait_for(PATIENCE, "the client errors counted", || {
        fwd.metric("http_client_errors") >= 8
    });
    assert_eq!(fwd.metric("upstream_ejections"), 0);
    // Both upstreams still take requests.
    let before = (a.count(), b.count());
    for _ in 0..4 {
        assert_eq!(get(fwd.addr, true, "").0, Some(200));
    }
    assert!(a.count() > before.0 && b.count() > before.1);
}

#[test]
fn a_stalled_request_body_is_answered_408_and_not_counted() {
    let up = Recorder::ok();
    let fwd = Fwd::start(
        &[up.server.addr],
        "bodyProgressTimeoutSeconds: 1, ejectAfterFailures: 1, ejectSeconds: 600",
    );
    let start = Instant::now();
    let (status, reply) = exchange(
        fwd.addr,
        format!("POST /up HTTP/1.1\r\nhost: {HOST}\r\ncontent-length: 10\r\n\r\n12345").as_bytes(),
    );
    assert_eq!(status, Some(408), "{reply:?}");
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(fwd.metric("upstream_ejections"), 0);
    assert_eq!(get(fwd.addr, true, "").0, Some(200));
}

// --------------------------------------------------- gateway answers ----

#[test]
fn gateway_errors_name_the_endpoint_and_log_the_upstream() {
    let closing = Recorder::start(|_| None);
    let fwd = Fwd::start(&[closing.server.addr], "");
    let (status, reply) = get(fwd.addr, true, "");
    assert_eq!(status, Some(502), "{reply:?}");
    assert!(body_of(&reply).contains(URL), "{reply:?}");
    let address = closing.server.addr.to_string();
    assert!(!reply.contains(&address), "{reply:?}");
    assert!(!reply.contains("127.0.0.1"), "{reply:?}");
    wait_for(PATIENCE, "the upstream's address in the log", || {
        fwd.standalone.log().contains(&address)
    });

    let silent = Recorder::start(|_| {
        std::thread::sleep(Duration::from_secs(30));
        None
    });
    let fwd = Fwd::start(&[silent.server.addr], "responseTimeoutSeconds: 1");
    let (status, reply) = get(fwd.addr, true, "");
    assert_eq!(status, Some(504), "{reply:?}");
    assert!(body_of(&reply).contains(URL), "{reply:?}");
    assert!(!reply.contains("127.0.0.1"), "{reply:?}");
}

// ------------------------------------------------------------ ejection ----

#[test]
fn a_burst_of_failures_ejects_once_and_the_upstream_returns_after_it() {
    let sick = Arc::new(AtomicBool::new(true));
    let flag = sick.clone();
    let a = Recorder::start(move |_| {
        if flag.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
            return Some(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".to_vec());
        }
        Some(ok_reply("A"))
    });
    let b = Recorder::start(|_| Some(ok_reply("B")));
    let fwd = Fwd::start(
        &[a.server.addr, b.server.addr],
        "ejectAfterFailures: 3, ejectSeconds: 5",
    );
    let burst: Vec<_> = (0..40)
        .map(|_| {
            let addr = fwd.addr;
            std::thread::spawn(move || get(addr, true, ""))
        })
        .collect();
    for t in burst {
        t.join().expect("request thread");
    }
    assert_eq!(
        fwd.metric("upstream_ejections"),
        1,
        "failures during the ejection neither extend nor double it"
    );
    sick.store(false, Ordering::SeqCst);
    let healed = Instant::now();
    let before = a.count();
    // Back after its one 5 s ejection (per failure it would be 300 s).
    wait_for(
        Duration::from_secs(30),
        "the healed upstream to get traffic",
        || {
            get(fwd.addr, true, "");
            a.count() > before
        },
    );
    assert!(
        healed.elapsed() < Duration::from_secs(20),
        "{:?}",
        healed.elapsed()
    );
}

#[test]
fn a_passed_probe_returns_an_ejected_upstream_at_once() {
    let down = closed_addr();
    let b = Recorder::ok();
    let fwd = Fwd::start(
        &[down, b.server.addr],
        "ejectAfterFailures: 1, ejectSeconds: 600, healthCheck: {type: tcp, intervalSeconds: 1}",
    );
    wait_for(PATIENCE, "the refused upstream's ejection", || {
        assert_eq!(get(fwd.addr, true, "").0, Some(200));
        fwd.metric("upstream_ejections") >= 1
    });
    let a = Recorder::on(down, |_| Some(ok_reply("A")));
    // Ejected for ten minutes, back once a probe passes.
    wait_for(
        Duration::from_secs(30),
        "the upstream back after its probe passed",
        || {
            get(fwd.addr, true, "");
            a.count() > 0
        },
    );
}

// -------------------------------------------------------- slow clients ----

#[test]
fn a_trickled_request_head_is_closed_after_the_head_timeout() {
    let up = Recorder::ok();
    // The idle timeout is an hour: only the head timeout can close it.
    let fwd = Fwd::start(&[up.server.addr], "requestHeadTimeoutSeconds: 1");
    let mut s = TcpStream::connect(fwd.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    s.write_all(format!("GET / HTTP/1.1\r\nhost: {HOST}\r\n").as_bytes())
        .expect("write");
    let start = Instant::now();
    let mut buf = [0u8; 512];
    let closed = loop {
        if start.elapsed() > Duration::from_secs(15) {
            break false;
        }
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break true,
        }
        if s.write_all(b"x").is_err() {
            break true;
        }
    };
    assert!(
        closed,
        "the trickling client was still connected after 15 s"
    );
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(up.count(), 0);
    assert_eq!(fwd.metric("http_request_head_timeouts"), 1);
}

#[test]
fn unfinished_heads_free_max_connections_after_the_head_timeout() {
    let up = Recorder::ok();
    let fwd = Fwd::start(
        &[up.server.addr],
        "requestHeadTimeoutSeconds: 1, maxConnections: 5",
    );
    let held: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(fwd.addr).expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\n").expect("write");
            s
        })
        .collect();
    wait_for(Duration::from_secs(15), "a new client served", || {
        TcpStream::connect(fwd.addr).ok().map(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let req = format!("GET / HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n\r\n");
            let _ = s.write_all(req.as_bytes());
            read_reply(&mut s).0
        }) == Some(Some(200))
    });
    drop(held);
}

#[test]
fn a_kept_alive_connection_and_a_head_in_pieces_are_not_cut_off() {
    let up = Recorder::ok();
    let fwd = Fwd::start(&[up.server.addr], "requestHeadTimeoutSeconds: 1");
    let mut s = TcpStream::connect(fwd.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let req = format!("GET / HTTP/1.1\r\nhost: {HOST}\r\n\r\n");
    let mut buf = Vec::new();
    for round in 0..3 {
        // Waiting for the next request is the idle timeout's, not the
        // head timeout's (the first counts from the accept).
        if round > 0 {
            std::thread::sleep(Duration::from_millis(2500));
        }
        let (first, rest) = req.as_bytes().split_at(10);
        s.write_all(first).expect("first piece");
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(rest).expect("second piece");
        let end = fill_until(&mut s, &mut buf, |b| find(b, b"\r\n\r\nok"))
            .unwrap_or_else(|| panic!("no answer in round {round}: {buf:?}"));
        assert_eq!(status_of(&String::from_utf8_lossy(&buf)), Some(200));
        buf.drain(..end + 6);
    }
    assert_eq!(fwd.metric("http_request_head_timeouts"), 0);
}

/// A kept-alive connection quiet for a second parks (hyper's buffers
/// given back) and serves what comes next on the same socket: a head begun
/// before the park, a head arriving in pieces, a switch of protocols with
/// bytes right behind its request.
#[test]
fn a_parked_connection_serves_heads_in_pieces_and_switches() {
    let up = Server::start(|mut s| {
        let mut buf = Vec::new();
        loop {
            let Some(end) = fill_until(&mut s, &mut buf, |b| find(b, b"\r\n\r\n")) else {
                return;
            };
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.drain(..end + 4);
            if !head.contains("upgrade: echo") {
                if s.write_all(&ok_reply("ok")).is_err() {
                    return;
                }
                continue;
            }
            let switch =
                b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n";
            if s.write_all(switch).is_err() || s.write_all(&buf).is_err() {
                return;
            }
            let mut from = s.try_clone().expect("clone");
            let _ = std::io::copy(&mut from, &mut s);
            return;
        }
    });
    let fwd = Fwd::start(&[up.addr], "");
    let mut s = TcpStream::connect(fwd.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buf = Vec::new();
    let mut answered = |s: &mut TcpStream, what: &str| {
        let end = fill_until(s, &mut buf, |b| find(b, b"\r\n\r\nok"))
            .unwrap_or_else(|| panic!("no answer to {what}: {buf:?}"));
        assert_eq!(
            status_of(&String::from_utf8_lossy(&buf)),
            Some(200),
            "{what}"
        );
        buf.drain(..end + 6);
    };
    let req = format!("GET / HTTP/1.1\r\nhost: {HOST}\r\n\r\n");
    let (first, rest) = req.as_bytes().split_at(12);
    s.write_all(req.as_bytes()).expect("request");
    answered(&mut s, "the first request");
    // Half a head before the park: the connection is not parked with it.
    s.write_all(first).expect("first piece");
    std::thread::sleep(Duration::from_millis(1800));
    assert_eq!(fwd.series("http_connections_parked"), 0);
    s.write_all(rest).expect("second piece");
    answered(&mut s, "a head begun before the park");
    wait_for(PATIENCE, "the quiet connection parked", || {
        fwd.series("http_connections_parked") == 1
    });
    // Parked, then woken by half a head.
    s.write_all(first).expect("first piece");
    std::thread::sleep(Duration::from_millis(1800));
    s.write_all(rest).expect("second piece");
    answered(&mut s, "a head that woke the parked connection");
    wait_for(PATIENCE, "parked again", || {
        fwd.series("http_connections_parked") == 1
    });
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nhost: {HOST}\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nearly"
    );
    s.write_all(upgrade.as_bytes()).expect("upgrade request");
    let mut buf = Vec::new();
    let end = fill_until(&mut s, &mut buf, |b| find(b, b"\r\n\r\n")).expect("a response head");
    assert_eq!(status_of(&String::from_utf8_lossy(&buf)), Some(101));
    buf.drain(..end + 4);
    fill_until(&mut s, &mut buf, |b| (b.len() >= 5).then_some(0)).expect("the early bytes");
    assert_eq!(
        buf, b"early",
        "bytes sent behind the switch come through first"
    );
    assert_eq!(fwd.series("http_connections_parked"), 0);
    assert_eq!(fwd.metric("idle_closed"), 0);
}

#[test]
fn an_upgraded_tunnel_outlives_the_head_timeout() {
    let up = Server::start(|mut s| {
        let mut buf = Vec::new();
        if fill_until(&mut s, &mut buf, |b| find(b, b"\r\n\r\n")).is_none() {
            return;
        }
        let switch =
            b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n";
        if s.write_all(switch).is_err() {
            return;
        }
        let mut from = s.try_clone().expect("clone");
        let _ = std::io::copy(&mut from, &mut s);
    });
    let fwd = Fwd::start(&[up.addr], "requestHeadTimeoutSeconds: 1");
    let mut s = TcpStream::connect(fwd.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let req =
        format!("GET /ws HTTP/1.1\r\nhost: {HOST}\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n");
    s.write_all(req.as_bytes()).expect("upgrade request");
    let mut buf = Vec::new();
    let end = fill_until(&mut s, &mut buf, |b| find(b, b"\r\n\r\n")).expect("a response head");
    assert_eq!(status_of(&String::from_utf8_lossy(&buf)), Some(101));
    buf.drain(..end + 4);
    for i in 0..2 {
        // Silence in a tunnel is no slow request head.
        std::thread::sleep(Duration::from_millis(2500));
        let word = format!("ping{i}");
        s.write_all(word.as_bytes()).expect("into the tunnel");
        fill_until(&mut s, &mut buf, |b| (b.len() >= word.len()).then_some(0))
            .unwrap_or_else(|| panic!("the tunnel closed before echo {i}"));
        assert_eq!(std::mem::take(&mut buf), word.as_bytes());
    }
    assert_eq!(fwd.metric("http_request_head_timeouts"), 0);
}

// ------------------------------------------------------------- headers ----

#[test]
fn host_and_forwarding_headers_are_checked_and_set() {
    let up = Recorder::ok();
    let fwd = Fwd::start(&[up.server.addr], "");

    let (status, _) = get(fwd.addr, true, "connection: host\r\n");
    assert_eq!(status, Some(200));
    assert_eq!(up.seen("host"), [HOST], "Connection: host removed Host");

    let (status, _) = get(fwd.addr, true, "x-forwarded-proto: https\r\n");
    assert_eq!(status, Some(200));
    assert_eq!(up.seen("x-forwarded-proto"), ["http"]);

    let req = format!(
        "GET http://other.example:8080/abs HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(exchange(fwd.addr, req.as_bytes()).0, Some(200));
    assert_eq!(up.seen("host"), ["other.example:8080"]);
    assert!(up.last().starts_with("GET /abs HTTP/1.1"), "{}", up.last());

    let req = b"GET /old HTTP/1.0\r\n\r\n";
    assert_eq!(exchange(fwd.addr, req).0.map(|_| ()), Some(()));
    assert_eq!(up.seen("host"), [HOST], "HTTP/1.0 without Host");

    let served = up.count();
    for (what, host, lines) in [
        ("no Host", false, ""),
        ("two Hosts", true, "host: other.example\r\n"),
        ("an invalid Host", false, "host: bad host!/x\r\n"),
        (
            "Host with user info",
            false,
            "host: user@rgw.storage:7480\r\n",
        ),
    ] {
        let (status, reply) = get(fwd.addr, host, lines);
        assert_eq!(status, Some(400), "{what}: {reply:?}");
    }
    let (status, reply) = exchange(
        fwd.addr,
        format!("CONNECT {HOST} HTTP/1.1\r\nhost: {HOST}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, Some(405), "{reply:?}");
    assert!(
        reply.to_ascii_lowercase().contains("\r\nallow: get"),
        "{reply:?}"
    );
    assert_eq!(up.count(), served, "a refused request reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_authority_wins_over_a_host_header() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let up = Recorder::ok();
    let fwd = Fwd::start(&[up.server.addr], "");
    let s = tokio::net::TcpStream::connect(fwd.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let req = http::Request::get(format!("{URL}/h2"))
        .header("host", "elsewhere.example")
        .body(Full::<Bytes>::default())
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(20), sender.send_request(req))
        .await
        .expect("an answer in time")
        .expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(up.seen("host"), [HOST]);
}

// -------------------------------------------------------------- limits ----

#[test]
fn heads_over_max_head_bytes_are_refused() {
    let up = Recorder::ok();
    let fwd = Fwd::start(&[up.server.addr], "");
    let served = up.count();
    let big = format!("x-big: {}\r\n", "a".repeat(100 * 1024));
    let (status, reply) = get(fwd.addr, true, &big);
    assert_eq!(status, Some(431), "{}", &reply[..reply.len().min(200)]);
    assert_eq!(up.count(), served);
    let fits = format!("x-big: {}\r\n", "a".repeat(60 * 1024));
    assert_eq!(get(fwd.addr, true, &fits).0, Some(200));

    let huge = Recorder::start(|_| {
        let big = "a".repeat(100 * 1024);
        Some(format!("HTTP/1.1 200 OK\r\nx-big: {big}\r\ncontent-length: 2\r\n\r\nok").into_bytes())
    });
    let fwd = Fwd::start(&[huge.server.addr], "");
    let (status, reply) = get(fwd.addr, true, "");
    assert_eq!(status, Some(502), "{}", &reply[..reply.len().min(200)]);
    assert!(body_of(&reply).contains("maxHeadBytes"), "{reply:?}");
}
