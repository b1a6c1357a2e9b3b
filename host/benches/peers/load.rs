//! The load: an echo backend, and the clients that measure through each
//! peer (iperf3 and wrk from Debian; new connections and ping-pong here).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many addresses the echo backend listens on, and how many source
/// addresses the connection clients spread over. Toward one address from
/// one address, the kernel hands out about 14,100 source ports a second
/// on loopback (its 14,116 even ephemeral ports, each free again once its
/// TIME_WAIT is a second old): every peer, direct included, would meet
/// that cap instead of its own cost (BENCHMARKS.md).
pub const ECHO_ADDRESSES: usize = 4;
const CLIENT_SOURCES: u8 = 8;

/// An echo server on its own thread and single-threaded runtime, listening
/// on [`ECHO_ADDRESSES`] ports of 127.0.0.1.
pub fn echo_server() -> Result<Vec<SocketAddr>, String> {
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..ECHO_ADDRESSES {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        addrs.push(l.local_addr().map_err(|e| e.to_string())?);
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        listeners.push(l);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            let mut loops = Vec::new();
            for l in listeners {
                if let Ok(l) = tokio::net::TcpListener::from_std(l) {
                    loops.push(tokio::spawn(echo_accept(l)));
                }
            }
            for l in loops {
                let _ = l.await;
            }
        })
    });
    Ok(addrs)
}

async fn echo_accept(l: tokio::net::TcpListener) {
    while let Ok((mut s, _)) = l.accept().await {
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Up to `n` lines of `out`, waiting at most `wait`; the rest is drained.
pub fn first_lines(out: impl Read + Send + 'static, n: usize, wait: Duration) -> Vec<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|len| len > 0) {
            let _ = tx.send(std::mem::take(&mut line));
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

/// iperf3 single-stream throughput through `addr`, in Gbit/s. The server
/// takes one test at a time and may still be closing the last one: a
/// failed run is tried again once, after a pause.
pub fn iperf3(addr: SocketAddr, seconds: u64) -> Result<f64, String> {
    iperf3_once(addr, seconds).or_else(|e| {
        eprintln!("{e}; trying again");
        std::thread::sleep(Duration::from_secs(1));
        iperf3_once(addr, seconds)
    })
}

fn iperf3_once(addr: SocketAddr, seconds: u64) -> Result<f64, String> {
    let out = Command::new("iperf3")
        .args(["-c", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-t", &seconds.to_string(), "-J"])
        .output()
        .map_err(|e| format!("iperf3: {e}"))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "iperf3 through {addr} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|bps| bps / 1e9)
        .ok_or_else(|| format!("iperf3 through {addr}: {}", json["error"]))
}

/// Connect, send one byte, read it back, close; as many as 16 clients can
/// for `dur`, each from its own source address of 127.0.0.2 to .9 and
/// taking `targets` in turn. Fails when more than 0.1% of the attempts
/// fail.
pub fn connections_per_second(targets: &[SocketAddr], dur: Duration) -> Result<f64, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..16u8)
            .map(|i| {
                let (done, failed) = (done.clone(), failed.clone());
                let from = Ipv4Addr::new(127, 0, 0, 2 + i % CLIENT_SOURCES);
                let targets = targets.to_vec();
                tokio::spawn(async move {
                    for to in targets.iter().cycle() {
                        if start.elapsed() >= dur {
                            break;
                        }
                        match one_exchange(from, *to).await {
                            Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                            Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let (ok, bad) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    if bad * 1000 > ok + bad {
        return Err(format!(
            "{bad} of {} connections to {targets:?} failed",
            ok + bad
        ));
    }
    Ok(ok as f64 / secs)
}

/// One connection from `from`, its source port chosen by `connect`
/// (IP_BIND_ADDRESS_NO_PORT), as for any client that does not bind.
async fn one_exchange(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<()> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, and a c_int option of its size.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    socket.bind(SocketAddr::from((from, 0)))?;
    let mut s = socket.connect(to).await?;
    s.set_nodelay(true)?;
    s.write_all(b"x").await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    Ok(())
}

/// Connections a ping-pong figure is measured over.
pub const PING_CONNECTIONS: usize = 10;

/// `n` round trips of 64 bytes, spread over [`PING_CONNECTIONS`] connections
/// made one after another: (p50, p99) in µs over all of them. Where the
/// scheduler places the client, the proxy and the echo server is settled
/// per connection and then holds (through one proxy, one connection's p50
/// kept near 50 µs or near 68 µs for 300,000 round trips): a single
/// connection samples one placement, several sample the proxy.
pub fn ping_pong(addr: SocketAddr, n: usize) -> Result<(f64, f64), String> {
    let per = n.div_ceil(PING_CONNECTIONS);
    let mut rtt = Vec::with_capacity(per * PING_CONNECTIONS);
    for _ in 0..PING_CONNECTIONS {
        ping_one_connection(addr, per, &mut rtt)?;
    }
    rtt.sort_by(f64::total_cmp);
    Ok((rtt[rtt.len() / 2], rtt[rtt.len() * 99 / 100]))
}

/// `n` round trips on a new connection, after `n / 10` not counted.
fn ping_one_connection(addr: SocketAddr, n: usize, rtt: &mut Vec<f64>) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("ping-pong through {addr}: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    let mut mine = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        s.write_all(&msg)
            .and_then(|()| s.read_exact(&mut back))
            .map_err(|e| format!("ping-pong through {addr}: {e}"))?;
        if i >= n / 10 {
            mine.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    if std::env::var_os("PEERS_PING_TRACE").is_some() {
        let mut m = mine.clone();
        m.sort_by(f64::total_cmp);
        eprintln!(
            "  {addr}: p50 {:.1} p99 {:.1}",
            m[m.len() / 2],
            m[m.len() * 99 / 100]
        );
    }
    rtt.extend(mine);
    Ok(())
}

/// wrk keep-alive requests per second (1 thread, 32 connections).
pub fn wrk(addr: SocketAddr, seconds: u64) -> Result<f64, String> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            "-c32",
            &format!("-d{seconds}s"),
            &format!("http://{addr}/"),
        ])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("wrk through {addr}: {line}"));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("wrk through {addr} printed no rate:\n{text}"))
}
