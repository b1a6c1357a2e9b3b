//! HTTP endpoints through `bindery standalone`, with real hyper clients and
//! servers on loopback: per-request routing on one keep-alive connection,
//! pooled upstream connections, `X-Forwarded-*`, h2c, the request head seen
//! by the router, upgrades, streaming bodies, retry and 502.
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::forward::{Server, Standalone, catalog_of, closed_addr, entry, on_free_ports};
use support::guest;

const URL: &str = "http://rgw.storage:7480";
const RR: &str = "router: {plugin: builtin:round-robin}\n";

/// An HTTP/1.1 upstream answering with its index and what it saw; a request
/// with `Upgrade: echo` switches to a byte echo.
struct Upstream {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

async fn upstream(index: usize) -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = l.local_addr().expect("addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let svc = service_fn(move |req| answer(index, req));
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .with_upgrades(),
            );
        }
    });
    Upstream { addr, connections }
}

async fn answer(
    index: usize,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let seen = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string()
    };
    let mut resp = Response::builder()
        .header("x-index", index.to_string())
        .header("x-seen-xff", seen("x-forwarded-for"))
        .header("x-seen-xfp", seen("x-forwarded-proto"))
        .header("x-seen-host", seen("host"))
        .header("x-seen-drop", seen("x-drop"))
        .header("x-seen-path", req.uri().to_string());
    if seen("upgrade") == "echo" {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        resp = resp
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "echo")
            .header("connection", "upgrade");
        return Ok(resp.body(Full::default()).expect("response"));
    }
    let body = req.into_body().collect().await?.to_bytes();
    Ok(resp.body(Full::new(body)).expect("response"))
}

/// `bindery standalone` serving `URL` over `addrs` under `policy`, on a
/// port of its own.
fn standalone(addrs: &[SocketAddr], policy: &str, extra: &[(&str, &[u8])]) -> Standalone {
    let catalog = catalog_of(&[entry(URL, addrs, "")]);
    let fwd = Standalone::start(&on_free_ports(policy, 1), &catalog, extra, 1);
    fwd.endpoint(URL);
    fwd
}

type H1 = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn h1(addr: SocketAddr) -> H1 {
    let s = TcpStream::connect(addr)
        .await
        .expect("connect to the forwarder");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// `GET path` with an empty body on `client`.
async fn get_on(client: &mut H1, path: &str) -> (Response<()>, Bytes) {
    send(client, get(path).body(Full::default()).expect("request")).await
}

fn get(path: &str) -> http::request::Builder {
    Request::get(path).header("host", "rgw.storage:7480")
}

/// One request and its whole answer, or a panic after `DEADLINE`: a test
/// that hangs says nothing.
async fn send(sender: &mut H1, req: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
    let exchange = async {
        sender.ready().await.expect("connection ready");
        let resp = sender.send_request(req).await.expect("response");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        (Response::from_parts(parts, ()), body)
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("an answer within the deadline")
}

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

fn header<'a>(r: &'a Response<()>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn tally(seen: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in seen {
        *m.entry(s).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_keep_alive_connection_is_routed_per_request_over_pooled_upstreams() {
    let ups = [upstream(0).await, upstream(1).await, upstream(2).await];
    let fwd = standalone(&addrs(&ups), RR, &[]);
    let mut client = h1(fwd.addr).await;
    let mut seen = Vec::new();
    for i in 0..30 {
        let req = get(&format!("/bucket/{i}?v=1"))
            .header("connection", "keep-alive, x-drop")
            .header("x-drop", "hop-by-hop")
            .body(Full::default())
            .expect("request");
        let (resp, _) = send(&mut client, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "x-seen-xff"), "127.0.0.1");
        assert_eq!(header(&resp, "x-seen-xfp"), "http");
        assert_eq!(header(&resp, "x-seen-host"), "rgw.storage:7480");
        assert_eq!(
            header(&resp, "x-seen-drop"),
            "none",
            "a header named by Connection is hop-by-hop"
        );
        assert_eq!(header(&resp, "x-seen-path"), format!("/bucket/{i}?v=1"));
        seen.push(header(&resp, "x-index").to_string());
    }
    let spread = tally(seen);
    assert_eq!(
        spread.values().copied().collect::<Vec<_>>(),
        [10, 10, 10],
        "{spread:?}"
    );
    let opened: usize = ups
        .iter()
        .map(|u| u.connections.load(Ordering::SeqCst))
        .sum();
    assert!(
        opened <= 6,
        "30 sequential requests opened {opened} upstream connections: keep-alive pool unused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_streams_are_routed_per_request() {
    let ups = [upstream(0).await, upstream(1).await, upstream(2).await];
    let fwd = standalone(&addrs(&ups), RR, &[]);
    let s = TcpStream::connect(fwd.addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    // Sequential streams on one connection: exactly round-robin.
    let mut seen = Vec::new();
    for i in 0..9 {
        seen.push(h2_get(sender.clone(), i).await);
    }
    let spread = tally(seen);
    assert_eq!(
        spread.values().copied().collect::<Vec<_>>(),
        [3, 3, 3],
        "{spread:?}"
    );
    // Concurrent streams: every one answered, spread over the pool.
    let seen = futures_join((0..30).map(|i| h2_get(sender.clone(), i))).await;
    assert_eq!(seen.len(), 30);
    assert!(
        tally(seen).len() >= 2,
        "concurrent streams all went to one upstream"
    );
}

async fn h2_get(
    mut sender: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    i: usize,
) -> String {
    let req = Request::get(format!("http://rgw.storage:7480/h2/{i}"))
        .body(Full::<Bytes>::default())
        .expect("request");
    let resp = sender.send_request(req).await.expect("h2 response");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-seen-host"], "rgw.storage:7480");
    assert_eq!(resp.headers()["x-seen-path"], format!("/h2/{i}").as_str());
    resp.headers()["x-index"]
        .to_str()
        .expect("index")
        .to_string()
}

async fn futures_join<F: std::future::Future<Output = String> + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<String> {
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("request task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_sees_the_request_head() {
    let ups = [upstream(0).await, upstream(1).await, upstream(2).await];
    let wasm = guest("hostile_router");
    let fwd = standalone(
        &addrs(&ups),
        "router: {plugin: router.wasm, config: {mode: header}}\n",
        &[("router.wasm", &wasm)],
    );
    let mut client = h1(fwd.addr).await;
    for want in [2, 0, 2, 1] {
        let req = get("/k")
            .header("x-upstream", want.to_string())
            .body(Full::default())
            .expect("request");
        let (resp, _) = send(&mut client, req).await;
        assert_eq!(header(&resp, "x-index"), want.to_string());
    }
    let (resp, body) = get_on(&mut client, "/some/path?q").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("no x-upstream in GET rgw.storage:7480/some/path?q"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_retried_on_another() {
    let (a, b) = (upstream(0).await, upstream(1).await);
    let dead = closed_addr();
    let fwd = standalone(&[dead, a.addr, b.addr], RR, &[]);
    let mut failed = 0;
    for i in 0..100 {
        // A new client connection every time: nothing to hide behind.
        let mut client = h1(fwd.addr).await;
        let (resp, _) = get_on(&mut client, &format!("/{i}")).await;
        if resp.status() != StatusCode::OK {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "requests failed while two upstreams were up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reachable_upstream_answers_502_naming_the_endpoint() {
    let fwd = standalone(&[closed_addr(), closed_addr()], RR, &[]);
    let mut client = h1(fwd.addr).await;
    let (resp, body) = get_on(&mut client, "/").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(String::from_utf8_lossy(&body).contains(URL));
    // The client connection survives a 502.
    let (resp, _) = get_on(&mut client, "/again").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_response_bodies_stream_through_unchanged() {
    let up = upstream(0).await;
    let fwd = standalone(&[up.addr], RR, &[]);
    let mut client = h1(fwd.addr).await;
    let payload: Vec<u8> = (0..4 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let req = Request::post("/upload")
        .header("host", "rgw.storage:7480")
        .body(Full::new(Bytes::from(payload.clone())))
        .expect("request");
    let (resp, body) = send(&mut client, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        body.as_ref() == payload.as_slice(),
        "4 MiB body came back altered ({} bytes)",
        body.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_is_passed_through_as_a_byte_stream() {
    let up = upstream(0).await;
    let fwd = standalone(&[up.addr], RR, &[]);
    let tunnel = async {
        let mut s = open_tunnel(fwd.addr).await;
        for msg in [&b"ping"[..], b"a longer frame of bytes", b"\x00\xff\x10"] {
            s.write_all(msg).await.expect("write through the tunnel");
            let mut back = vec![0u8; msg.len()];
            s.read_exact(&mut back)
                .await
                .expect("echo through the tunnel");
            assert_eq!(back, msg);
        }
    };
    tokio::time::timeout(DEADLINE, tunnel)
        .await
        .expect("the tunnel answers within the deadline");
}

/// A connection switched to the upstream's byte echo, its `101` read.
async fn open_tunnel(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /chat HTTP/1.1\r\nHost: rgw.storage:7480\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .expect("write upgrade request");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        s.read_exact(&mut byte).await.expect("read 101 head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_tunnel_holds_its_place_under_max_connections() {
    let up = upstream(0).await;
    let policy = format!("{RR}forwarding: {{maxConnections: 1}}\n");
    let fwd = standalone(&[up.addr], &policy, &[]);
    let check = async {
        let mut tunnel = open_tunnel(fwd.addr).await;
        tunnel.write_all(b"still open").await.expect("write");
        let mut back = [0u8; 10];
        tunnel.read_exact(&mut back).await.expect("echo");
        // The tunnel is the one connection allowed: another is closed
        // unanswered.
        let mut other = TcpStream::connect(fwd.addr).await.expect("connect");
        let _ = other
            .write_all(b"GET / HTTP/1.1\r\nhost: rgw.storage:7480\r\n\r\n")
            .await;
        let mut buf = [0u8; 64];
        let read = other.read(&mut buf).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a connection over the limit was answered: {:?}",
            read.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        );
        // Once the tunnel closes, its place is free again.
        drop(tunnel);
        loop {
            let mut s = TcpStream::connect(fwd.addr).await.expect("connect");
            let _ = s
                .write_all(b"GET / HTTP/1.1\r\nhost: rgw.storage:7480\r\n\r\n")
                .await;
            if matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
                assert!(buf.starts_with(b"HTTP/1.1 200"));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, check)
        .await
        .expect("done within the deadline");
}

fn addrs(ups: &[Upstream]) -> Vec<SocketAddr> {
    ups.iter().map(|u| u.addr).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_answers_gets_a_504_after_the_response_timeout() {
    // Accepts, reads, never answers.
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let policy = format!("{RR}forwarding: {{responseTimeoutSeconds: 1}}\n");
    let fwd = standalone(&[silent], &policy, &[]);
    let mut client = h1(fwd.addr).await;
    let (resp, body) = get_on(&mut client, "/").await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(String::from_utf8_lossy(&body).contains("sent no response"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_connection_is_closed_and_a_busy_one_is_not() {
    let up = upstream(0).await;
    let policy = format!("{RR}forwarding: {{idleTimeoutSeconds: 1}}\n");
    let fwd = standalone(&[up.addr], &policy, &[]);
    let s = TcpStream::connect(fwd.addr).await.expect("connect");
    let (mut client, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("handshake");
    let conn = tokio::spawn(conn);
    // A request every 300 ms for 2.4 s, more than two idle timeouts: all
    // on the one connection.
    for i in 0..8 {
        let (resp, _) = get_on(&mut client, &format!("/{i}")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // Then silence: the forwarder closes it (within 1.25 s; 10 s allowed).
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), conn).await;
    assert!(
        matches!(closed, Ok(Ok(Ok(())))),
        "the idle connection was not closed: {closed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_trickled_byte_by_byte_is_closed_as_idle() {
    let up = upstream(0).await;
    let policy = format!("{RR}forwarding: {{idleTimeoutSeconds: 1}}\n");
    let fwd = standalone(&[up.addr], &policy, &[]);
    let mut s = TcpStream::connect(fwd.addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nhost: rgw.storage:7480\r\n")
        .await
        .expect("write");
    let start = std::time::Instant::now();
    let mut buf = [0u8; 512];
    // A header byte every 200 ms: bytes keep coming, no request completes.
    let closed = loop {
        if start.elapsed() > std::time::Duration::from_secs(10) {
            break false;
        }
        tokio::select! {
            r = s.read(&mut buf) => break matches!(r, Ok(0) | Err(_)),
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                if s.write_all(b"x").await.is_err() {
                    break true;
                }
            }
        }
    };
    assert!(
        closed,
        "the trickling client was still connected after 10 s"
    );
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
}

/// An HTTP/1.1 upstream written by hand, to answer with exact bytes: the
/// request's path picks the answer, and whether the connection closes
/// after it. Requests carry no body.
fn scripted(mut s: std::net::TcpStream) {
    use std::io::Write;
    let mut buf = Vec::new();
    loop {
        let Some(head) = next_head(&mut s, &mut buf) else {
            return;
        };
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("");
        let (answer, close): (&[u8], bool) = match path {
            "/chunked" => (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n",
                false,
            ),
            "/length" => (b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nlength", false),
            // Answered to HEAD: the length of a body not sent.
            "/head" => (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", false),
            "/no-content" => (b"HTTP/1.1 204 No Content\r\n\r\n", false),
            "/until-close" => (b"HTTP/1.1 200 OK\r\n\r\nuntil close", true),
            "/says-close" => (
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                true,
            ),
            // Closes without saying so, as a keep-alive timeout does.
            "/drops" => (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true),
            "/malformed" => (b"HTTP/1.1 twohundred OK\r\n\r\n", true),
            _ => (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", false),
        };
        if s.write_all(answer).is_err() || close {
            return;
        }
    }
}

/// The next request head on `s` (bodiless requests), `buf` holding what
/// was read past it; `None` at the end of the stream or an error.
fn next_head(s: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    use std::io::Read;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(buf.drain(..end + 4).collect());
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `GET path` answers `status` with `body`.
async fn expect(client: &mut H1, path: &str, status: u16, body: &str) {
    let (resp, got) = get_on(client, path).await;
    assert_eq!(resp.status().as_u16(), status, "{path}");
    assert_eq!(String::from_utf8_lossy(&got), body, "{path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_body_framing_reaches_the_client_and_keeps_the_connection_when_it_can() {
    let up = Server::start(scripted);
    let fwd = standalone(&[up.addr], RR, &[]);
    let mut client = h1(fwd.addr).await;
    expect(&mut client, "/chunked", 200, "hello, world").await;
    expect(&mut client, "/length", 200, "length").await;
    expect(&mut client, "/no-content", 204, "").await;
    let head = Request::head("/head")
        .header("host", "rgw.storage:7480")
        .body(Full::default())
        .expect("request");
    let (resp, body) = send(&mut client, head).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), "5");
    assert!(body.is_empty());
    assert_eq!(up.accepted(), 1, "one upstream connection carried all four");

    // A body that ends with the connection: the next request needs another.
    expect(&mut client, "/until-close", 200, "until close").await;
    expect(&mut client, "/length", 200, "length").await;
    assert_eq!(up.accepted(), 2);
    expect(&mut client, "/says-close", 200, "ok").await;
    expect(&mut client, "/length", 200, "length").await;
    assert_eq!(up.accepted(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_the_upstream_closed_is_replaced_without_an_error() {
    let up = Server::start(scripted);
    let fwd = standalone(&[up.addr], RR, &[]);
    let mut client = h1(fwd.addr).await;
    for round in 0..20 {
        let (resp, body) = get_on(&mut client, "/drops").await;
        assert_eq!(resp.status(), StatusCode::OK, "round {round}");
        assert_eq!(&body[..], b"ok");
        // Half the rounds give the forwarder time to see the close; the
        // others send at once, racing it.
        if round % 2 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (resp, body) = get_on(&mut client, "/length").await;
        assert_eq!(resp.status(), StatusCode::OK, "round {round}: {body:?}");
        assert_eq!(&body[..], b"length");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_upstream_response_is_a_502_naming_the_endpoint() {
    let up = Server::start(scripted);
    let fwd = standalone(&[up.addr], RR, &[]);
    let mut client = h1(fwd.addr).await;
    let (resp, body) = get_on(&mut client, "/malformed").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains(URL) && body.contains("malformed"), "{body}");
    let (resp, _) = get_on(&mut client, "/length").await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the client connection survives"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_request_body_reaches_the_upstream_whole() {
    let up = upstream(0).await;
    let fwd = standalone(&[up.addr], RR, &[]);
    let exchange = async {
        let mut s = TcpStream::connect(fwd.addr).await.expect("connect");
        s.write_all(
            b"POST /echo HTTP/1.1\r\nhost: rgw.storage:7480\r\ntransfer-encoding: chunked\r\n\r\n\
              6\r\nhello,\r\n1\r\n \r\n6;ext=1\r\nworld!\r\n0\r\n\r\n",
        )
        .await
        .expect("write");
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).ends_with("hello, world!") {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    };
    let answer = tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("an answer within the deadline");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pooled_connection_the_upstream_closed_is_closed_without_another_request() {
    use std::io::{Read, Write};
    // Answers one request, keeping the connection alive, then closes its
    // side as a keep-alive timeout does and reports when the forwarder
    // closes the other.
    let (closed_tx, closed_rx) = std::sync::mpsc::channel::<std::time::Instant>();
    let closed_tx = std::sync::Mutex::new(closed_tx);
    let up = Server::start(move |mut s| {
        if next_head(&mut s, &mut Vec::new()).is_none() {
            return;
        }
        if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
        // The forwarder's close ends the read; a timeout would mean the
        // connection was left open.
        if matches!(s.read(&mut [0u8; 64]), Ok(0)) {
            let _ = closed_tx
                .lock()
                .map(|tx| tx.send(std::time::Instant::now()));
        }
    });
    let fwd = standalone(&[up.addr], RR, &[]);
    let mut client = h1(fwd.addr).await;
    expect(&mut client, "/", 200, "ok").await;
    let answered = std::time::Instant::now();
    // No other request comes to find the connection closed.
    let closed = tokio::task::spawn_blocking(move || {
        closed_rx.recv_timeout(std::time::Duration::from_secs(20))
    })
    .await
    .expect("join");
    let closed = closed.expect("the forwarder kept the closed upstream connection open for 20 s");
    let after = closed.duration_since(answered);
    assert!(
        after < std::time::Duration::from_secs(12),
        "closed only after {after:?}"
    );
    drop(client);
}

/// 12 requests, each on a connection of its own (as `curl` in a loop sends
/// them), over 12 healthy upstreams reach 12 different upstreams, whichever
/// of the forwarder's four threads accepts each connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_one_rotation_across_connections_and_threads() {
    let mut ups = Vec::new();
    for i in 0..12 {
        ups.push(upstream(i).await);
    }
    let catalog = catalog_of(&[entry(URL, &addrs(&ups), "")]);
    let fwd = Standalone::start_env(
        &on_free_ports(RR, 1),
        &catalog,
        &[],
        1,
        &[],
        &[("BINDERY_FORWARD_THREADS", "4")],
    );
    let mut seen = Vec::new();
    for i in 0..12 {
        let mut client = h1(fwd.addr).await;
        let req = get(&format!("/bucket/{i}"))
            .header("connection", "close")
            .body(Full::default())
            .expect("request");
        let (resp, _) = send(&mut client, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        seen.push(header(&resp, "x-index").to_string());
    }
    let spread = tally(seen);
    assert_eq!(spread.len(), 12, "{spread:?}");
}
