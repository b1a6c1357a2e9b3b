//! `bindery standalone` as a child process in a directory of its own, the
//! way a user runs it: the endpoints it prints, its log shown when a test
//! fails, the process killed when the test ends.
use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Bound on the wait for the endpoint lines: the first load of a large
/// plugin compiles it, and the machine is shared.
pub const STARTUP: Duration = Duration::from_secs(120);

pub struct Standalone {
    child: Child,
    /// Where the first endpoint printed is served.
    pub addr: SocketAddr,
    /// Every endpoint printed: URL -> where it is served.
    pub endpoints: BTreeMap<String, SocketAddr>,
    /// The endpoint lines as printed.
    pub lines: Vec<String>,
    /// `catalog.yaml`, `policy.yaml`, the plugins and `stderr.log`.
    pub dir: tempfile::TempDir,
}

impl Standalone {
    /// `bindery standalone --catalog catalog.yaml --policy .` serving
    /// `catalog` under `policy`, with `files` (plugins) beside the policy,
    /// once it has printed `endpoints` lines `<url> -> <ip>:<port>`. The
    /// ports are the policy's (see [`super::on_free_ports`]). The log goes
    /// to `stderr.log` in [`Standalone::dir`], at debug level.
    pub fn start(
        policy: &str,
        catalog: &str,
        files: &[(&str, &[u8])],
        endpoints: usize,
    ) -> Standalone {
        Standalone::start_with(policy, catalog, files, endpoints, &[])
    }

    /// [`Standalone::start`] with more arguments (`--admin ADDR`, ...).
    pub fn start_with(
        policy: &str,
        catalog: &str,
        files: &[(&str, &[u8])],
        endpoints: usize,
        args: &[&str],
    ) -> Standalone {
        Standalone::start_env(policy, catalog, files, endpoints, args, &[])
    }

    /// [`Standalone::start_with`] with environment variables set.
    pub fn start_env(
        policy: &str,
        catalog: &str,
        files: &[(&str, &[u8])],
        endpoints: usize,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Standalone {
        let dir = super::layout(policy, catalog, files);
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let mut child = crate::support::bindery()
            .args(["standalone", "--catalog", "catalog.yaml", "--policy", "."])
            .args(args)
            .env("RUST_LOG", "bindery=debug")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start bindery standalone");
        // The reader keeps draining stdout so that later lines never meet a
        // closed pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line);
            }
        });
        let mut printed = Vec::new();
        let deadline = Instant::now() + STARTUP;
        while printed.len() < endpoints {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => printed.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "bindery standalone printed {printed:?}, not {endpoints} endpoint line(s); its log:\n{}",
                        read_log(&dir)
                    );
                }
            }
        }
        let parsed: BTreeMap<String, SocketAddr> = printed
            .iter()
            .map(|line| {
                line.split_once(" -> ")
                    .and_then(|(url, a)| Some((url.to_string(), a.trim().parse().ok()?)))
                    .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            })
            .collect();
        let first = printed[0].split_once(" -> ").map(|(u, _)| u).unwrap_or("");
        Standalone {
            addr: parsed[first],
            endpoints: parsed,
            lines: printed,
            child,
            dir,
        }
    }

    /// Where `url` is served; panics when it was not printed.
    pub fn endpoint(&self, url: &str) -> SocketAddr {
        *self
            .endpoints
            .get(url)
            .unwrap_or_else(|| panic!("{url} is not served; served: {:?}", self.endpoints))
    }

    /// The log so far.
    pub fn log(&self) -> String {
        read_log(&self.dir)
    }
}

fn read_log(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default()
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("bindery standalone's log:\n{}", self.log());
        }
    }
}
