//! Shared by the integration tests: the hostile guests, a runtime, catalogs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bindery::metrics::PluginMetrics;
use bindery::plugin::{Runtime, RuntimeOptions};

pub mod cluster;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn guests_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        let target = target.join("test-guests");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(repo_root().join("host/tests/guests"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("running cargo to build the hostile guests");
        assert!(status.success(), "building the hostile guests failed");
        target.join("wasm32-wasip2/release")
    })
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
    pub candidates: Vec<bindery::plugin::bindings::Candidate>,
}

/// A pool of `http://rgw.storage:7480` with one upstream per
/// `(weight, healthy, active)`.
pub fn pool(url: &str, spec: &[(u32, bool, u32)]) -> Pool {
    use bindery::plugin::bindings::Candidate;
    use bindery::plugin::{RouteTarget, UpstreamView};
    let scheme = if url.starts_with("tcp:") {
        bindery::plugin::bindings::Scheme::Tcp
    } else {
        bindery::plugin::bindings::Scheme::Http
    };
    let target = RouteTarget {
        url: url.to_string(),
        scheme,
        upstreams: (0..spec.len())
            .map(|i| UpstreamView {
                address: format!("10.0.0.{}:7480", 11 + i),
                weight: spec[i].0,
                labels: vec![("index".into(), i.to_string())],
            })
            .collect(),
    };
    let candidates = spec
        .iter()
        .map(|&(weight, healthy, active)| Candidate {
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
        head: Option<http::request::Parts>,
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
