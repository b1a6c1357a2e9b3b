//! Upstream servers on loopback: a [`Server`] runs a handler on a thread
//! per connection; the handlers here greet, echo, and hash what they read.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A free loopback port, free when this returns (nothing holds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `first` such that `first..first + n` are all free on 127.0.0.1 now.
pub fn free_ports(n: u16) -> u16 {
    loop {
        let first = free_port();
        if first.checked_add(n - 1).is_some()
            && (1..n).all(|i| TcpListener::bind(("127.0.0.1", first + i)).is_ok())
        {
            return first;
        }
    }
}

/// An address where nothing listens. On 127.0.0.3, not a freed port of
/// 127.0.0.1: the forwarder's own outgoing connection could take that port
/// as its source and connect to itself (TCP simultaneous open).
pub fn closed_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 3], free_port()))
}

/// A loopback upstream: a thread accepting, a thread per connection running
/// the handler. Stops listening (the port closes) when dropped.
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

    /// Keep serving until the test binary exits; its address.
    pub fn leak(self) -> SocketAddr {
        let addr = self.addr;
        std::mem::forget(self);
        addr
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

pub fn addrs(servers: &[Server]) -> Vec<SocketAddr> {
    servers.iter().map(|s| s.addr).collect()
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

/// Echo every byte until the client's EOF.
pub fn echo(s: TcpStream) {
    if let Ok(mut r) = s.try_clone() {
        let mut w = s;
        let _ = std::io::copy(&mut r, &mut w);
    }
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

/// Write `"<index>\n"` and close at once.
pub fn announce(index: usize) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s| {
        let _ = s.write_all(format!("{index}\n").as_bytes());
    }
}

/// Answer each line with `"<tag> <line>"` (see [`super::say`]).
pub fn line_echo(tag: &str) -> impl Fn(TcpStream) + Send + Sync + 'static {
    let tag = tag.to_string();
    move |s| {
        let Ok(mut w) = s.try_clone() else { return };
        for line in BufReader::new(s).lines() {
            let Ok(line) = line else { return };
            if writeln!(w, "{tag} {line}").is_err() {
                return;
            }
        }
    }
}
