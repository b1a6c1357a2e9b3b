//! Memory per idle connection: the resident memory of `bindery standalone`
//! with N client connections open and idle through it, minus what it held
//! before, and what it holds again once they have closed.
//!
//! `cargo bench --bench idle_memory` (`-- --quick`: 1,000 connections
//! only). For each kind, a fresh `bindery standalone` serves a `tcp://`
//! endpoint (an echo upstream) or an `http://` endpoint (an upstream
//! answering `200 ok`, keep-alive); the upstreams run in a child process
//! of the bench (this program again, with `--upstreams`), so that neither
//! process needs a descriptor per connection on both sides. For each N
//! (1,000, then 10,000) the bench opens N connections through Bindery,
//! makes one exchange on each (64 bytes echoed, or one `GET`), leaves them
//! idle, reads Bindery's `VmRSS`, closes them all and reads it again.
//! `IDLE_BINDERY=path` measures another build.
//!
//! The soft limit on open files is raised to the hard limit (and the hard
//! one too where the bench may). A `tcp://` connection holds two
//! descriptors in Bindery: where the hard limit leaves no room for N of
//! them, the run takes as many as fit and says so.
//!
//! Each reading waits [`SETTLE`] first: an HTTP/1 connection parks (gives
//! hyper's buffers back) after a second of quiet, and mimalloc returns
//! freed pages to the system when a forwarder thread collects, every 2 s;
//! a reading sooner would count pages about to go.
#[allow(dead_code, reason = "the peers bench's helpers; this bench uses a few")]
#[path = "../peers/procs.rs"]
mod procs;
mod upstreams;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use procs::Proc;

/// The wait before each reading of the resident memory.
const SETTLE: Duration = Duration::from_secs(6);
/// Connections being opened at once.
const OPENING_AT_ONCE: usize = 200;
/// Client connections come from 127.0.0.2 up, this many addresses, so that
/// no run waits on the source ports an earlier one left in TIME_WAIT.
const CLIENT_SOURCES: u8 = 8;
/// Descriptors a process of the largest run needs: Bindery holds two per
/// `tcp://` connection, and some of its own.
const FILES: u64 = 2 * 10_000 + 200;
/// Descriptors Bindery holds besides its connections' (listeners, the
/// runtime's, the watched files), with room to spare.
const OWN_FILES: u64 = 100;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Tcp,
    Http,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Http => "http",
        }
    }

    /// Descriptors one idle connection holds in Bindery: an HTTP client
    /// connection holds none upstream while no request is in flight.
    fn files(self) -> u64 {
        match self {
            Kind::Tcp => 2,
            Kind::Http => 1,
        }
    }
}

struct Row {
    kind: Kind,
    n: usize,
    started: u64,
    before: u64,
    open: u64,
    closed: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--upstreams") {
        upstreams::serve_forever();
    }
    let quick = args.iter().any(|a| a == "--quick");
    if let Err(e) = run(quick) {
        eprintln!("idle_memory benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run(quick: bool) -> Result<(), String> {
    let files = raise_nofile(FILES)?;
    eprintln!("open files: {files}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_upstreams, echo, origin) = upstreams::spawn(dir.path())?;
    let sizes: &[usize] = if quick { &[1_000] } else { &[1_000, 10_000] };
    let mut rows = Vec::new();
    for kind in [Kind::Tcp, Kind::Http] {
        let (url, upstream) = match kind {
            Kind::Tcp => ("tcp://idle.bench:7", echo),
            Kind::Http => ("http://idle.bench:80", origin),
        };
        let here = dir.path().join(kind.name());
        std::fs::create_dir_all(&here).map_err(|e| e.to_string())?;
        let (mut bindery, target) = bindery(&here, url, upstream)?;
        let pid = bindery.child().id();
        std::thread::sleep(SETTLE);
        let started = rss_kib(pid)?;
        for &wanted in sizes {
            let fit = (files.saturating_sub(OWN_FILES) / kind.files()) as usize;
            let n = wanted.min(fit);
            if n < wanted {
                eprintln!(
                    "{n} {} connections, not {wanted}: the limit on open files is {files}",
                    kind.name()
                );
            }
            let before = rss_kib(pid)?;
            let conns = rt.block_on(open_all(kind, target, n))?;
            std::thread::sleep(SETTLE);
            let open = rss_kib(pid)?;
            drop(conns);
            std::thread::sleep(SETTLE);
            let closed = rss_kib(pid)?;
            bindery.alive(&here.join("bindery.log"))?;
            eprintln!(
                "{} x {n}: {before} KiB before, {open} KiB open, {closed} KiB closed",
                kind.name()
            );
            rows.push(Row {
                kind,
                n,
                started,
                before,
                open,
                closed,
            });
        }
    }
    println!("{}", table(&rows));
    Ok(())
}

fn table(rows: &[Row]) -> String {
    let mb = |kib: u64| kib as f64 / 1024.0;
    let mut out = "| idle connections | resident at start | before | open | per connection | after they close |\n|---|---|---|---|---|---|\n".to_string();
    for r in rows {
        let per = (r.open.saturating_sub(r.before)) as f64 * 1024.0 / r.n as f64;
        out += &format!(
            "| {} × `{}://` | {:.1} MB | {:.1} MB | {:.1} MB | {:.1} KB | {:.1} MB |\n",
            r.n,
            r.kind.name(),
            mb(r.started),
            mb(r.before),
            mb(r.open),
            per / 1000.0,
            mb(r.closed)
        );
    }
    out
}

/// Raise the soft limit on open files to `want`, or as far as the hard
/// limit allows (a process with CAP_SYS_RESOURCE raises the hard limit
/// too). Bindery and the upstreams inherit it. Returns the soft limit in
/// effect.
fn raise_nofile(want: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid resource and a pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let wider = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wider) } == 0 {
        return Ok(want);
    }
    let soft = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    Ok(lim.rlim_max)
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading bindery's /proc status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in bindery's /proc status".to_string())
}

/// `bindery standalone` in `dir` serving `url` over `upstream`: the
/// process and where the endpoint is served.
fn bindery(
    dir: &std::path::Path,
    url: &str,
    upstream: SocketAddr,
) -> Result<(Proc, SocketAddr), String> {
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))
    };
    write(
        "catalog.yaml",
        format!("endpoints:\n- url: {url}\n  upstreams: [{{address: \"{upstream}\"}}]\n"),
    )?;
    // Ports below the ephemeral range, where no client port lands.
    write(
        "policy.yaml",
        "ports: {first: 16000, last: 16999}\nforwarding: {maxConnections: 100000}\n".into(),
    )?;
    let program = std::env::var_os("IDLE_BINDERY").unwrap_or(env!("CARGO_BIN_EXE_bindery").into());
    let log = dir.join("bindery.log");
    let mut p = Proc::spawn(
        "bindery standalone",
        Command::new(program)
            .args([
                "standalone",
                "--catalog",
                "catalog.yaml",
                "--policy",
                "policy.yaml",
            ])
            .current_dir(dir)
            .stdout(Stdio::piped()),
        &log,
    )?;
    let out = p.child().stdout.take().ok_or("bindery's stdout")?;
    let lines = first_lines(out, 1, Duration::from_secs(60));
    let addr = lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{url} -> ")))
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "bindery printed no line for {url}: {lines:?}; log {}",
                log.display()
            )
        })?;
    p.alive(&log)?;
    Ok((p, addr))
}

/// Up to `n` lines of `out` within `wait`; the rest is drained.
fn first_lines(out: impl std::io::Read + Send + 'static, n: usize, wait: Duration) -> Vec<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    while lines.len() < n {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => lines.push(l.trim().to_string()),
            Err(_) => break,
        }
    }
    lines
}

/// `n` connections to `to`, each after one exchange, left open.
async fn open_all(kind: Kind, to: SocketAddr, n: usize) -> Result<Vec<TcpStream>, String> {
    let mut conns = Vec::with_capacity(n);
    let mut opening = tokio::task::JoinSet::new();
    for i in 0..n {
        if opening.len() >= OPENING_AT_ONCE {
            conns.push(joined(opening.join_next().await)?);
        }
        let from = Ipv4Addr::new(127, 0, 0, 2 + (i % usize::from(CLIENT_SOURCES)) as u8);
        opening.spawn(open_one(kind, from, to));
    }
    while let Some(r) = opening.join_next().await {
        conns.push(joined(Some(r))?);
    }
    Ok(conns)
}

fn joined(
    r: Option<Result<std::io::Result<TcpStream>, tokio::task::JoinError>>,
) -> Result<TcpStream, String> {
    match r {
        Some(Ok(Ok(s))) => Ok(s),
        Some(Ok(Err(e))) => Err(format!("a connection through bindery failed: {e}")),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no connection".into()),
    }
}

/// One connection from `from` and one exchange on it: 64 bytes echoed, or
/// a `GET` and its whole response.
async fn open_one(kind: Kind, from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, and a c_int option of its size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    socket.bind(SocketAddr::from((from, 0)))?;
    let mut s = socket.connect(to).await?;
    match kind {
        Kind::Tcp => {
            let msg = [7u8; 64];
            s.write_all(&msg).await?;
            let mut back = [0u8; 64];
            s.read_exact(&mut back).await?;
        }
        Kind::Http => {
            s.write_all(b"GET / HTTP/1.1\r\nhost: idle.bench\r\n\r\n")
                .await?;
            upstreams::read_response(&mut s).await?;
        }
    }
    Ok(s)
}
