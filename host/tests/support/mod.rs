//! Shared by the integration tests. Here: paths, the `bindery` binary, the
//! hostile guests and a plugin runtime, router inputs, files, `wait_for`.
//! Beside it: [`forward`] (upstream servers, a forwarder in front of them,
//! clients), [`cluster`] (a kube-apiserver and `bindery run`), [`node`]
//! (the node of `testenv/start --node`: its network namespace, pods,
//! clients and load), [`tools`] (the external programs `testenv/setup`
//! installs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bindery::metrics::PluginMetrics;
use bindery::plugin::{Runtime, RuntimeOptions};

pub mod cluster;
pub mod forward;
pub mod kube_proxy;
pub mod netns;
pub mod node;
pub mod registry;
pub mod tools;

/// Generous bound on a wait for an event that should come at once: the
/// machine is shared.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Poll `cond` until it holds; panic naming `what` after `limit`. Polls
/// often at first and every 100 ms later, so that a quick event is seen
/// quickly and a slow one (a kubectl per poll) does not load the machine.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Write `text` to `path` atomically (a rename, as kubelet's symlink swap
/// does for a ConfigMap): a watcher never reads half a file.
pub fn write_file(path: &Path, text: &str) {
    let name = path.file_name().expect("a file name").to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Where the tests build: `$CARGO_TARGET_DIR`, else `target/` of the repo.
pub fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Build the Cargo workspace in `dir` (relative to the repository root) for
/// `wasm32-wasip2` into `target_root()/<target>-<WIT digest>`, with its own lock file,
/// and return the directory of the release components.
pub fn build_components(dir: &str, target: &str) -> PathBuf {
    // Per WIT digest, as build.rs does: cargo does not know that wit-bindgen
    // reads the WIT files, and would keep components of an older contract.
    let target = target_root().join(format!("{target}-{}", env!("BINDERY_WIT_DIGEST")));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root().join(dir))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build {dir}: {e}"));
    assert!(status.success(), "building {dir} for wasm32-wasip2 failed");
    target.join("wasm32-wasip2/release")
}

fn guests_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_components("host/tests/guests", "test-guests"))
}

/// The component bytes of a hostile guest (`hostile_router`, ...).
pub fn guest(name: &str) -> Vec<u8> {
    let path = guest_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn guest_path(name: &str) -> PathBuf {
    guests_dir().join(format!("{name}.wasm"))
}

pub fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions::from_env(), PluginMetrics::default()).expect("plugin runtime")
}

/// The `bindery` binary built for this test run.
pub fn bindery() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bindery"))
}

/// The Services of `bindery plan`'s stdout, a YAML stream.
pub fn services(stdout: &[u8]) -> Vec<k8s_openapi::api::core::v1::Service> {
    String::from_utf8_lossy(stdout)
        .split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect()
}

/// Write files into a fresh temporary directory.
pub fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("writing test file");
    }
    dir
}

/// An endpoint's upstreams for a router, and their live state.
#[derive(Clone)]
pub struct Pool {
    pub target: std::sync::Arc<bindery::plugin::RouteTarget>,
    pub candidates: Vec<bindery::plugin::Candidate>,
}

/// A pool of `http://rgw.storage:7480` with one upstream per
/// `(weight, healthy, active)`.
pub fn pool(url: &str, spec: &[(u32, bool, u32)]) -> Pool {
    use bindery::plugin::Candidate;
    use bindery::plugin::{RouteTarget, UpstreamView};
    let scheme = if url.starts_with("tcp:") {
        bindery::plugin::bindings::Scheme::Tcp
    } else {
        bindery::plugin::bindings::Scheme::Http
    };
    let target = RouteTarget::new(
        url.to_string(),
        scheme,
        (0..spec.len())
            .map(|i| {
                UpstreamView::new(
                    format!("10.0.0.{}:7480", 11 + i),
                    spec[i].0,
                    vec![("index".into(), i.to_string())],
                )
            })
            .collect(),
    );
    let candidates = spec
        .iter()
        .zip(&target.upstreams)
        .map(|(&(weight, healthy, active), view)| Candidate {
            key: view.key,
            weight,
            healthy,
            active,
        })
        .collect();
    Pool {
        target: std::sync::Arc::new(target),
        candidates,
    }
}

/// `n` equal healthy upstreams of a tcp endpoint.
pub fn uniform(n: usize) -> Pool {
    pool("tcp://db.prod:5432", &vec![(1, true, 0); n])
}

impl Pool {
    pub fn input(
        &self,
        ip: &str,
        head: Option<Box<http::request::Parts>>,
    ) -> bindery::plugin::RouteInput {
        let ip: std::net::IpAddr = ip.parse().expect("test IP");
        bindery::plugin::RouteInput {
            target: self.target.clone(),
            client: std::net::SocketAddr::new(ip, 40000),
            head,
        }
    }

    pub fn route(&self, r: &bindery::plugin::RouterPlugin, ip: &str) -> bindery::plugin::Routed {
        r.route(self.input(ip, None), &self.candidates).0
    }
}
