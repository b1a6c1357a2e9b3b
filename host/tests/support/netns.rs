//! Network namespaces a test makes (`ip netns`), deleted when dropped: a
//! private network of veth pairs and addresses where kube-proxy may write
//! its rules, never the machine's own namespace. Sockets are made inside a
//! namespace by a thread that entered it (`setns`); a socket keeps its
//! namespace wherever it is used afterwards.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::tools;

pub struct Netns {
    pub name: String,
}

/// `ip <args>`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = tools::on_path("ip")
        .args(args)
        .output()
        .expect("running ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// A fresh namespace `name` (one left by a crashed run is replaced),
    /// with its loopback up.
    pub fn new(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name]);
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <name> <args>`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// A veth pair between `self` (`here`, with `here_addr`) and `other`
    /// (`there`, with each of `there_addrs`), both up.
    pub fn veth(
        &self,
        here: &str,
        here_addr: &str,
        other: &Netns,
        there: &str,
        there_addrs: &[&str],
    ) {
        let _ = Command::new("ip").args(["link", "del", here]).output();
        ip(&["link", "add", here, "type", "veth", "peer", "name", there]);
        ip(&["link", "set", here, "netns", &self.name]);
        ip(&["link", "set", there, "netns", &other.name]);
        self.ip(&["addr", "add", here_addr, "dev", here]);
        self.ip(&["link", "set", here, "up"]);
        for a in there_addrs {
            other.ip(&["addr", "add", a, "dev", there]);
        }
        other.ip(&["link", "set", there, "up"]);
    }

    /// `ip netns exec <name> <program>`: files in `/etc/netns/<name>/`
    /// (e.g. `hosts`) are bind-mounted over `/etc`'s for that process.
    pub fn exec(&self, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// The namespace's own `/etc` overrides.
    pub fn etc(&self) -> PathBuf {
        PathBuf::from("/etc/netns").join(&self.name)
    }

    /// Run `f` on a thread inside the namespace.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = PathBuf::from("/run/netns").join(&self.name);
        std::thread::spawn(move || {
            enter_thread(&path);
            f()
        })
        .join()
        .expect("thread in the namespace")
    }

    /// A thread inside the namespace running `f` (not joined).
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = PathBuf::from("/run/netns").join(&self.name);
        std::thread::spawn(move || {
            enter_thread(&path);
            f()
        })
    }

    /// Connections to `listen` inside the namespace carried to `to` in the
    /// namespace of the caller (the apiserver on the machine's loopback).
    pub fn relay(&self, listen: SocketAddr, to: SocketAddr) {
        let listener = self.enter(move || TcpListener::bind(listen).expect("relay listen"));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let Ok(up) = TcpStream::connect(to) else {
                    continue;
                };
                pipe(conn, up);
            }
        });
    }
}

fn enter_thread(path: &std::path::Path) {
    let file = std::fs::File::open(path).expect("opening the namespace");
    // SAFETY: setns(2) on an open namespace file; affects this thread only.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().expect("clone"), b.try_clone().expect("clone"));
    std::thread::spawn(move || copy(a, b2));
    std::thread::spawn(move || copy(b, a2));
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(self.etc());
    }
}

/// A server inside a namespace on `addr` that writes its own address and a
/// newline to each connection, and then echoes (a bulk transfer's sink);
/// stopped (its socket closed: connections refused) by `stop` or drop.
pub struct NsServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// The listening socket's descriptor, for `shutdown` to end `accept`.
    fd: i32,
}

impl NsServer {
    pub fn start(ns: &Netns, addr: SocketAddr) -> NsServer {
        let listener = ns.enter(move || TcpListener::bind(addr).expect("server bind"));
        let fd = listener.as_raw_fd();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(conn) = conn {
                    std::thread::spawn(move || serve(conn, addr));
                }
            }
            // The listener closes here: new connections are refused.
        });
        NsServer { addr, stop, fd }
    }

    pub fn stop(&self) {
        if self.stop.swap(true, Ordering::Relaxed) {
            return;
        }
        // SAFETY: shutdown(2) on the listening socket the accept thread
        // still owns; it makes the blocked accept return at once.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        // Until the thread drops the listener, connections are refused
        // by the shut-down socket already.
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for NsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut conn: TcpStream, addr: SocketAddr) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_nodelay(true);
    if writeln!(conn, "{}", addr.ip()).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Connect to `to` (from the calling thread's namespace) and read the
/// server's first line: the upstream's address.
pub fn who(to: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let s = TcpStream::connect_timeout(&to, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::other("closed before a line"));
    }
    Ok(line.trim().to_string())
}
