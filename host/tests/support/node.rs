//! The node of `testenv/start --node` for end-to-end tests: started once per
//! test binary (a state dir of its own) and stopped when the binary exits.
//! Helpers to put test processes where a node's neighbours are: servers
//! and clients in the node's network namespace (outside the pods, reaching
//! pods and ClusterIPs through kube-proxy), client pods, kubectl and helm.
//! Nothing here uses Bindery's library: the tests drive the cluster the
//! way a user does.
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::cluster::testenv_dir;
use super::forward::http_get_on;
use super::repo_root;
use super::tools::kubectl;

/// A measurement of a node test, for BENCHMARKS.md to collect (never
/// asserted on).
pub fn figure(what: &str, value: impl std::fmt::Display) {
    println!("node-figure: {what}: {value}");
}

/// How long a pod may take to become Ready on a shared two-core machine.
pub const POD_READY: Duration = Duration::from_secs(180);

pub struct Node {
    /// The state dir of testenv (logs of every part in `node/`).
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    /// The network namespace the node lives in (`/run/netns/<netns>`).
    pub netns: String,
    /// The node's address (its InternalIP), in `netns`.
    pub node_ip: Ipv4Addr,
    /// The machine's end of the link: where the apiserver listens.
    pub host_ip: Ipv4Addr,
    /// The busybox image loaded into containerd (`imagePullPolicy: Never`).
    pub client_image: String,
    /// The Bindery image built from the working tree, e.g. `bindery:0.1.0`.
    pub bindery_image: String,
}

static NODE: OnceLock<Node> = OnceLock::new();

extern "C" fn stop_node() {
    if let Some(n) = NODE.get() {
        if std::env::var_os("BINDERY_NODE_KEEP").is_some() {
            eprintln!(
                "BINDERY_NODE_KEEP: the node stays up; stop it with BINDERY_TESTENV_DIR={} testenv/stop",
                n.dir.display()
            );
            return;
        }
        let _ = Command::new(repo_root().join("testenv/stop"))
            .env("BINDERY_TESTENV_DIR", &n.dir)
            .stderr(Stdio::null())
            .status();
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// The node of this test binary (state dir [`testenv_dir`]`(name)`),
/// started on first use with the `bindery` binary of this test run in its
/// image. Installs nothing: what is missing fails here, naming
/// `testenv/setup`.
pub fn node(name: &str) -> &'static Node {
    NODE.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        assert!(
            uid == 0,
            "the node tests need root (network namespaces, containerd, cgroups): run `cargo test --release` as root"
        );
        let dir = testenv_dir(name);
        let out = Command::new(repo_root().join("testenv/start"))
            .arg("--node")
            .env("BINDERY_TESTENV_DIR", &dir)
            .env("BINDERY_TESTENV_INSTALL", "0")
            // The binary every other test runs, not a build of its own.
            .env("BINDERY_NODE_BINARY", env!("CARGO_BIN_EXE_bindery"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running testenv/start --node");
        // SAFETY: registering a plain extern "C" fn with no captured state.
        unsafe { libc::atexit(stop_node) };
        assert!(
            out.status.success(),
            "testenv/start --node failed (its message is above; a missing tool: run testenv/setup)"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kubeconfig = PathBuf::from(stdout.lines().last().expect("kubeconfig path").trim());
        let node_dir = dir.join("node");
        let images = read(&node_dir, "images");
        let image = |prefix: &str| {
            images
                .lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} image in {images}"))
                .to_string()
        };
        Node {
            netns: read(&node_dir, "netns"),
            node_ip: read(&node_dir, "node-ip").parse().expect("node-ip"),
            host_ip: read(&node_dir, "host-ip").parse().expect("host-ip"),
            client_image: image("bindery.local/client:"),
            bindery_image: image("docker.io/library/bindery:")
                .trim_start_matches("docker.io/library/")
                .to_string(),
            dir,
            kubeconfig,
        }
    })
}

/// Enter the network namespace at `/run/netns/<netns>` on this thread.
fn enter(netns: &str) {
    let path = format!("/run/netns/{netns}");
    let f = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
    // SAFETY: setns on a valid namespace fd affects only the calling thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
}

impl Node {
    /// Run `f` on a thread in the node's network namespace: the sockets it
    /// makes live there (and stay there when used from other threads), and
    /// threads it spawns start there.
    pub fn in_netns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                enter(&self.netns);
                f()
            })
            .join()
            .expect("thread in the node's namespace panicked")
        })
    }

    /// A listener on the node's address, in its namespace (port 0: any).
    pub fn listen(&self, port: u16) -> TcpListener {
        self.in_netns(|| {
            TcpListener::bind((self.node_ip, port))
                .unwrap_or_else(|e| panic!("bind {}:{port} in {}: {e}", self.node_ip, self.netns))
        })
    }

    /// `program` run in the node's network namespace (and nothing else
    /// changed), e.g. a client or an upstream server of another kind.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg("--")
            .arg(program);
        c
    }

    /// kubectl (1.27 or later) on this node's cluster.
    pub fn kubectl_cmd(&self) -> Command {
        let mut c = kubectl();
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        c
    }

    /// Run kubectl: stdout, or stderr as the error.
    pub fn kubectl_status(&self, args: &[&str]) -> Result<String, String> {
        super::tools::kubectl_output(self.kubectl_cmd().args(args))
    }

    /// Run kubectl; panics with its stderr on failure.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_status(args)
            .unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
    }

    /// `kubectl <args> -o json`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&all)).expect("kubectl -o json")
    }

    /// The upstream Services Bindery projected in `ns` for `account` that
    /// carry `url` (proxy mode's), as kubectl shows them.
    pub fn upstream_services(&self, ns: &str, account: &str, url: &str) -> Vec<serde_json::Value> {
        let selector =
            format!("app.kubernetes.io/managed-by=bindery,bindery.dev/account={account}");
        let list = self.json(&["get", "services", "-n", ns, "-l", &selector]);
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["metadata"]["annotations"]["bindery.dev/urls"]
                    .as_str()
                    .is_some_and(|u| u.split(',').any(|u| u == url))
            })
            .cloned()
            .collect()
    }

    /// `helm install --wait` of the chart in this tree as `release` in
    /// `ns`, the image the node holds, and `sets` (`key=value`).
    pub fn helm_install(&self, release: &str, ns: &str, sets: &[&str]) {
        let (repo, tag) = self.bindery_image.split_once(':').expect("image name:tag");
        let mut cmd = super::tools::helm();
        cmd.args([
            "install",
            release,
            "deploy/helm/bindery",
            "--create-namespace",
        ])
        .args(["--namespace", ns, "--wait", "--timeout", "5m"])
        .arg("--kubeconfig")
        .arg(&self.kubeconfig)
        .args(["--set", &format!("image.repository={repo}")])
        .args(["--set", &format!("image.tag={tag}")]);
        for s in sets {
            cmd.args(["--set", s]);
        }
        super::tools::run_ok(&mut cmd);
    }

    /// `kubectl apply -f -` of a YAML stream.
    pub fn apply(&self, yaml: &str) {
        super::tools::kubectl_apply(&mut self.kubectl_cmd(), yaml);
    }

    pub fn namespace(&self, ns: &str) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
        ));
    }

    /// A busybox pod `name` in `ns` (sleeping; use [`Node::exec`]), Ready.
    pub fn client_pod(&self, ns: &str, name: &str) {
        self.apply(&format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {{runAsNonRoot: true, runAsUser: 65534, seccompProfile: {{type: RuntimeDefault}}}}
  containers:
    - name: client
      image: {image}
      imagePullPolicy: Never
      command: [sleep, "86400"]
      securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
"#,
            image = self.client_image
        ));
        self.wait_ready(ns, &format!("pod/{name}"));
    }

    /// `kubectl wait --for=condition=Ready` on `what` (e.g. `pod/x`,
    /// `pod -l app=y`), panicking with the pods' state on timeout.
    pub fn wait_ready(&self, ns: &str, what: &str) {
        let mut args = vec!["wait", "-n", ns, "--for=condition=Ready"];
        args.extend(what.split(' '));
        let timeout = format!("--timeout={}s", POD_READY.as_secs());
        args.push(&timeout);
        if let Err(e) = self.kubectl_status(&args) {
            panic!(
                "{what} in {ns} not Ready: {e}\n{}\n{}",
                self.kubectl_status(&["get", "pods", "-n", ns, "-o", "wide"])
                    .unwrap_or_default(),
                self.kubectl_status(&["get", "events", "-n", ns])
                    .unwrap_or_default()
            );
        }
    }

    /// `kubectl exec` in a pod: stdout, or stderr as the error.
    pub fn exec(&self, ns: &str, pod: &str, cmd: &[&str]) -> Result<String, String> {
        let mut args = vec!["exec", "-n", ns, pod, "--"];
        args.extend_from_slice(cmd);
        self.kubectl_status(&args)
    }

    /// The IPs of the pods in `ns` matching `selector` that are Ready.
    pub fn ready_pod_ips(&self, ns: &str, selector: &str) -> Vec<(String, Ipv4Addr)> {
        let out = self.kubectl(&[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            selector,
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\n"}{end}"#,
        ]);
        out.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                match f.as_slice() {
                    [name, ip, "True"] => Some((name.to_string(), ip.parse().ok()?)),
                    _ => None,
                }
            })
            .collect()
    }

    /// An HTTP/1.1 upstream in the node's namespace on the node's address:
    /// every response's body is `tag`; keep-alive.
    pub fn http_upstream(&self, tag: &str) -> HttpUpstream {
        let listener = self.listen(0);
        HttpUpstream::serve(listener, tag)
    }

    /// A TCP upstream in the node's namespace: greets with `"<tag>\n"`, then
    /// echoes until the client's EOF.
    pub fn tcp_upstream(&self, tag: &str) -> TcpUpstream {
        TcpUpstream::serve(self.listen(0), tag)
    }

    /// A network namespace `name` beside the node's, joined to it by a
    /// veth pair: [`NEIGHBOUR_NODE`] on the node's end, [`NEIGHBOUR`] on
    /// the other, its default route through the node. A server there is
    /// reached over a link, as on another machine, where one on the node's
    /// own address is reached over its loopback (another MTU, no route).
    pub fn neighbour(&self, name: &str) -> super::netns::Netns {
        let there = super::netns::Netns::new(name);
        // Interface names: at most 15 bytes.
        let (a, b) = ("bdnb0", "bdnb1");
        let ip = super::netns::ip;
        let (node_end, far_end) = (format!("{NEIGHBOUR_NODE}/24"), format!("{NEIGHBOUR}/24"));
        ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        ip(&["link", "set", a, "netns", &self.netns]);
        ip(&["link", "set", b, "netns", &there.name]);
        ip(&["-n", &self.netns, "addr", "add", &node_end, "dev", a]);
        ip(&["-n", &self.netns, "link", "set", a, "up"]);
        there.ip(&["addr", "add", &far_end, "dev", b]);
        there.ip(&["link", "set", b, "up"]);
        there.ip(&[
            "route",
            "add",
            "default",
            "via",
            &NEIGHBOUR_NODE.to_string(),
        ]);
        there
    }
}

/// The node's address on the link to [`Node::neighbour`].
pub const NEIGHBOUR_NODE: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
/// The neighbour's address.
pub const NEIGHBOUR: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);

pub struct TcpUpstream {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    stopped: Arc<AtomicBool>,
    fd: std::os::fd::RawFd,
}

impl TcpUpstream {
    /// Greet each connection to `listener` with `"<tag>\n"`, then echo
    /// until the client's EOF.
    pub fn serve(listener: TcpListener, tag: &str) -> TcpUpstream {
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        let fd = listener.as_raw_fd();
        let tag = tag.to_string();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = s else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let tag = tag.clone();
                std::thread::spawn(move || {
                    if s.write_all(format!("{tag}\n").as_bytes()).is_err() {
                        return;
                    }
                    let mut buf = [0u8; 64 << 10];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        TcpUpstream {
            addr,
            accepted,
            stopped,
            fd,
        }
    }

    /// Stop listening, as a server that died: new connections are refused;
    /// those already open go on.
    pub fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            // SAFETY: the listener is open until its thread sees `stopped`;
            // shutdown wakes its blocked accept, which then returns.
            unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        }
    }
}

/// An HTTP/1.1 server answering every request with 200 and its tag.
pub struct HttpUpstream {
    pub addr: SocketAddr,
    pub tag: String,
    /// Requests answered.
    pub hits: Arc<AtomicUsize>,
}

impl HttpUpstream {
    fn serve(listener: TcpListener, tag: &str) -> HttpUpstream {
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let (count, body) = (hits.clone(), tag.to_string());
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { continue };
                let (count, body) = (count.clone(), body.clone());
                std::thread::spawn(move || serve_http(s, &body, &count));
            }
        });
        HttpUpstream {
            addr,
            tag: tag.to_string(),
            hits,
        }
    }
}

/// Answer requests on `s` until the client closes or asks to close.
fn serve_http(s: TcpStream, body: &str, hits: &AtomicUsize) {
    let _ = s.set_nodelay(true);
    let mut w = match s.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(s);
    loop {
        let mut close = false;
        let mut length = 0usize;
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let mut h = String::new();
            match r.read_line(&mut h) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        if length > 0 {
            let mut sink = vec![0u8; length];
            if r.read_exact(&mut sink).is_err() {
                return;
            }
        }
        hits.fetch_add(1, Ordering::SeqCst);
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if w.write_all(reply.as_bytes()).is_err() || close {
            return;
        }
    }
}

// ---------------------------------------------------------------- clients

/// One HTTP/1.1 response: status, body, and whether the server asked to
/// close the connection.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub close: bool,
}

fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<Response> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let (mut length, mut close) = (0usize, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::Error::other(
                "connection closed in the response head",
            ));
        }
        let h = h.trim_end().to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if h.starts_with("connection:") && h.contains("close") {
            close = true;
        }
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        close,
    })
}

/// A keep-alive `GET /`.
fn request(host: &str, headers: &[(&str, &str)]) -> String {
    let mut req = format!("GET / HTTP/1.1\r\nhost: {host}\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req + "\r\n"
}

fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// `GET /` on a new connection with `Connection: close`: status and body.
pub fn get_once(
    addr: SocketAddr,
    host: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    http_get_on(connect(addr, timeout)?, host, "/", headers)
}

/// A keep-alive HTTP/1.1 client on one connection at a time, with the
/// retry every such client makes (browsers, curl, hyper): a request that
/// meets a reused connection closed before any byte of the response came
/// back is sent once more on a new connection. Nothing else is retried.
pub struct KeepAlive {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    conn: Option<BufReader<TcpStream>>,
    /// Requests sent again after a reused connection was found closed.
    pub retried: usize,
    /// Connections opened.
    pub connections: usize,
}

impl KeepAlive {
    pub fn new(addr: SocketAddr, host: &str, timeout: Duration) -> KeepAlive {
        KeepAlive {
            addr,
            host: host.to_string(),
            timeout,
            conn: None,
            retried: 0,
            connections: 0,
        }
    }

    pub fn get(&mut self, headers: &[(&str, &str)]) -> std::io::Result<Response> {
        let req = request(&self.host, headers);
        if let Some(mut conn) = self.conn.take() {
            let sent = conn.get_mut().write_all(req.as_bytes());
            let got = sent.and_then(|()| read_response(&mut conn));
            match got {
                Ok(resp) => {
                    if !resp.close {
                        self.conn = Some(conn);
                    }
                    return Ok(resp);
                }
                // Closed (or reset) before the response began: retry once.
                Err(e) if nothing_came_back(&e) => self.retried += 1,
                Err(e) => return Err(e),
            }
        }
        let s = connect(self.addr, self.timeout)?;
        self.connections += 1;
        let mut conn = BufReader::new(s);
        conn.get_mut().write_all(req.as_bytes())?;
        let resp = read_response(&mut conn)?;
        if !resp.close {
            self.conn = Some(conn);
        }
        Ok(resp)
    }
}

fn nothing_came_back(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | BrokenPipe | ConnectionAborted
    )
}

// ---------------------------------------------------------------- load

/// Continuous HTTP load from the node's namespace: `new_conns` threads each
/// making a new connection per request, `keep_alive` threads each reusing
/// one; runs until [`Load::stop`].
pub struct Load {
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<LoadStats>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub ok: usize,
    pub failed: usize,
    /// The first failures: (seconds since the start, what).
    pub failures: Vec<(f64, String)>,
    /// Seconds since the start of the last failure.
    pub last_failure: Option<f64>,
    pub retried: usize,
    /// Answers per body (the upstream's tag).
    pub bodies: std::collections::BTreeMap<String, usize>,
}

impl Load {
    pub fn start(
        node: &Node,
        addr: SocketAddr,
        host: &str,
        new_conns: usize,
        keep_alive: usize,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(LoadStats::default()));
        let started = Instant::now();
        let timeout = Duration::from_secs(5);
        let threads = node.in_netns(|| {
            (0..new_conns + keep_alive)
                .map(|i| {
                    let (stop, stats, host) = (stop.clone(), stats.clone(), host.to_string());
                    // Spawned from a thread in the namespace: starts there.
                    std::thread::spawn(move || {
                        let mut client =
                            (i >= new_conns).then(|| KeepAlive::new(addr, &host, timeout));
                        while !stop.load(Ordering::SeqCst) {
                            let got = match client.as_mut() {
                                Some(c) => c.get(&[]).map(|r| (r.status, r.body)),
                                None => get_once(addr, &host, &[], timeout),
                            };
                            let t = started.elapsed().as_secs_f64();
                            let mut st = stats.lock().expect("stats");
                            match got {
                                Ok((200, body)) => {
                                    st.ok += 1;
                                    *st.bodies.entry(body).or_default() += 1;
                                }
                                other => {
                                    st.failed += 1;
                                    st.last_failure = Some(t);
                                    if st.failures.len() < 20 {
                                        st.failures.push((t, format!("{other:?}")));
                                    }
                                    drop(st);
                                    std::thread::sleep(Duration::from_millis(20));
                                }
                            }
                        }
                        if let Some(c) = client {
                            stats.lock().expect("stats").retried += c.retried;
                        }
                    })
                })
                .collect()
        });
        Load {
            stop,
            stats,
            threads,
            started,
        }
    }

    /// Seconds since the load started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn snapshot(&self) -> LoadStats {
        self.stats.lock().expect("stats").clone()
    }

    pub fn stop(self) -> LoadStats {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
        self.stats.lock().expect("stats").clone()
    }
}
