//! The forwarder in-process on loopback, and real upstream servers to put
//! behind it: a [`Harness`] serves one catalog endpoint under a policy on its
//! own tokio runtime, while the tests drive it with blocking std sockets from
//! their own threads.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bindery::forward::metrics::EndpointCounters;
use bindery::forward::upstream::Upstream;
use bindery::forward::{ForwardMetrics, Forwarder};
use bindery::live::Snapshot;
use bindery::live::reload;
use bindery::plugin::Runtime;
use bindery::process::standalone::allocation;
use sha2::{Digest, Sha256};

/// Generous bound on any wait for an event: the machine is shared.
pub const PATIENCE: Duration = Duration::from_secs(60);

fn plugins() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(super::runtime)
}

/// A free loopback port, free when this returns (nothing holds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// An address where nothing listens.
pub fn closed_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A catalog with the one endpoint `url` over `upstreams`, with `metadata`
/// given as YAML flow-mapping entries (`"k": "v", ...`) or empty.
pub fn catalog(url: &str, upstreams: &[SocketAddr], metadata: &str) -> String {
    let list: Vec<String> = upstreams
        .iter()
        .map(|a| format!("{{address: \"{a}\"}}"))
        .collect();
    format!(
        "endpoints:\n  - url: {url}\n    metadata: {{{metadata}}}\n    upstreams: [{}]\n",
        list.join(", ")
    )
}

/// `catalog.yaml` and the policy of `dir` through the pipeline.
fn once(
    dir: &std::path::Path,
    previous: &bindery::pipeline::Allocation,
    generation: u64,
) -> bindery::live::Snapshot {
    reload::once(
        plugins(),
        &dir.join("catalog.yaml"),
        Some(dir),
        "bindery-system",
        previous,
        generation,
    )
    .unwrap_or_else(|e| panic!("policy or catalog refused: {e:?}"))
}

/// One endpoint served by an in-process [`Forwarder`] on 127.0.0.1.
pub struct Harness {
    pub forwarder: Arc<Forwarder>,
    pub metrics: ForwardMetrics,
    pub snapshot: Snapshot,
    pub url: String,
    /// Where the endpoint listens.
    pub addr: SocketAddr,
    pub rt: tokio::runtime::Runtime,
    dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Serve `catalog` (one endpoint) under `policy` (YAML without `ports`),
    /// with `files` (plugins) beside the policy. The endpoint gets a free
    /// port; a port taken meanwhile by someone else is retried.
    pub fn start(policy: &str, catalog: &str, files: &[(&str, &[u8])]) -> Harness {
        let dir = super::dir_with(files);
        std::fs::write(dir.path().join("catalog.yaml"), catalog).expect("catalog");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let metrics = ForwardMetrics::default();
        let forwarder = {
            let _in = rt.enter();
            let f =
                Forwarder::new([127, 0, 0, 1].into(), metrics.clone()).expect("forwarder threads");
            f.start_maintenance();
            f
        };
        for generation in 1..=10 {
            let port = free_port();
            let text = format!("{policy}\nports: {{first: {port}, last: {port}}}\n");
            std::fs::write(dir.path().join("policy.yaml"), text).expect("policy");
            let snapshot = once(dir.path(), &Default::default(), generation);
            assert_eq!(
                snapshot.outcome.projections.len(),
                1,
                "one endpoint projected: {:?}",
                snapshot.outcome.rejections
            );
            let settings = Arc::new(snapshot.policy.loaded.policy.forwarding.clone());
            let served = {
                let _in = rt.enter();
                forwarder.apply(
                    &snapshot.outcome.projections,
                    &snapshot.policy.plugins.router,
                    &settings,
                    generation,
                )
            };
            match served.into_iter().next() {
                Some(Ok(s)) => {
                    return Harness {
                        forwarder,
                        metrics,
                        snapshot,
                        url: s.url,
                        addr: s.addr,
                        rt,
                        dir: dir.path().to_path_buf(),
                        _dir: dir,
                    };
                }
                Some(Err(e)) => eprintln!("retrying on another port: {e}"),
                None => panic!("nothing served"),
            }
        }
        panic!("no free port for the endpoint after 10 tries");
    }

    /// Replace the policy (YAML without `ports`) as a hot reload does: the
    /// endpoint keeps its port and listener.
    pub fn reload(&mut self, policy: &str) {
        let port = self.addr.port();
        let text = format!("{policy}\nports: {{first: {port}, last: {port}}}\n");
        std::fs::write(self._dir.path().join("policy.yaml"), text).expect("policy");
        let previous = allocation(Some(&self.snapshot));
        let generation = self.snapshot.generation() + 1;
        let snapshot = once(&self.dir, &previous, generation);
        let settings = Arc::new(snapshot.policy.loaded.policy.forwarding.clone());
        let served = {
            let _in = self.rt.enter();
            self.forwarder.apply(
                &snapshot.outcome.projections,
                &snapshot.policy.plugins.router,
                &settings,
                generation,
            )
        };
        match served.as_slice() {
            [Ok(s)] if s.addr == self.addr => {}
            other => panic!("the reload moved or lost the endpoint: {other:?}"),
        }
        self.snapshot = snapshot;
    }

    /// The endpoint's Prometheus series.
    pub fn counters(&self) -> EndpointCounters {
        self.metrics.endpoint(&self.url)
    }

    /// The endpoint's upstreams in catalog order, with their live state.
    pub fn upstreams(&self) -> Vec<Arc<Upstream>> {
        self.forwarder
            .probe_targets()
            .into_iter()
            .find(|t| t.url == self.url)
            .map(|t| t.upstreams)
            .unwrap_or_default()
    }

    /// Wait until `cond` holds on the upstreams' live state.
    pub fn await_upstreams(&self, what: &str, cond: impl Fn(&[Arc<Upstream>]) -> bool) {
        wait_for(what, || cond(&self.upstreams()));
    }

    /// Times the router plugin failed and round-robin answered.
    pub fn router_fallbacks(&self) -> u64 {
        self.snapshot
            .policy
            .plugins
            .router
            .counters()
            .fallbacks
            .get()
    }
}

/// Poll `cond` every 20 ms until it holds; panic after [`PATIENCE`].
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback upstream: a thread accepting, a thread per connection running
/// the handler. Stops listening (the port closes) when dropped or stopped.
pub struct Server {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        Server::on(SocketAddr::from(([127, 0, 0, 1], 0)), handler)
    }

    /// Listen on `addr` (a port given back by a stopped server).
    pub fn on(addr: SocketAddr, handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind(addr).expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (count, halt) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for s in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(s) = s else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let h = handler.clone();
                std::thread::spawn(move || h(s));
            }
        });
        Server {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Echo every byte; at the client's EOF write the SHA-256 of all it sent,
/// then close. The digest can only arrive if the FIN reached the upstream
/// and the reply still flows after it.
pub fn echo_with_digest(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hash.update(&buf[..n]);
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let _ = s.write_all(&hash.finalize());
}

/// Greet with `"<index>\n"`, then echo until the client's EOF, then close.
pub fn tagged(index: usize) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s| {
        if s.write_all(format!("{index}\n").as_bytes()).is_err() {
            return;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    }
}

/// `n` upstreams, each greeting with its index.
pub fn tagged_servers(n: usize) -> Vec<Server> {
    (0..n).map(|i| Server::start(tagged(i))).collect()
}

pub fn addrs(servers: &[Server]) -> Vec<SocketAddr> {
    servers.iter().map(|s| s.addr).collect()
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, PATIENCE)?;
    s.set_read_timeout(Some(PATIENCE))?;
    s.set_write_timeout(Some(PATIENCE))?;
    Ok(s)
}

/// Open a connection and read the greeting of the upstream it reached; the
/// connection stays open.
pub fn hold(addr: SocketAddr) -> std::io::Result<(TcpStream, usize)> {
    let s = connect(addr)?;
    let tag = read_tag(&s)?;
    Ok((s, tag))
}

/// A connection from source address `from` (any 127.0.0.0/8 address).
pub fn hold_from(from: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<(TcpStream, usize)> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&addr.into(), PATIENCE)?;
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(PATIENCE))?;
    let tag = read_tag(&s)?;
    Ok((s, tag))
}

fn read_tag(s: &TcpStream) -> std::io::Result<usize> {
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("no upstream greeting, got {line:?}")))
}

/// `GET path` on the connected `s`, with `Host: host`, `Connection: close`
/// and `headers`: the status and the body.
pub fn http_get_on(
    mut s: TcpStream,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    s.write_all(request.as_bytes())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let bad = |what: &str| std::io::Error::other(format!("{what} in {reply:?}"));
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of the response head"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    Ok((status, body.to_string()))
}

/// One whole exchange: which upstream answered, and that it echoes and
/// closes after our FIN.
pub fn ask(addr: SocketAddr) -> std::io::Result<usize> {
    let (s, tag) = hold(addr)?;
    finish(s)?;
    Ok(tag)
}

/// Send a line, half-close, and expect exactly that line back, then EOF.
pub fn finish(mut s: TcpStream) -> std::io::Result<()> {
    s.write_all(b"ping\n")?;
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    if rest != b"ping\n" {
        return Err(std::io::Error::other(format!(
            "echo after greeting: {:?}",
            String::from_utf8_lossy(&rest)
        )));
    }
    Ok(())
}

/// Read until EOF; true when the peer closed (EOF or reset) rather than
/// the read timing out.
pub fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}
