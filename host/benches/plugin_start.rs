//! Time to first serve with the router pulled from a registry: from
//! starting `bindery standalone` until a connection through its endpoint
//! reaches the upstream. Three starts per run: a new pod (an empty cache:
//! the router pulled and compiled, and the built-in selector and naming
//! compiled too); the router cold (pulled and compiled, the built-ins
//! already cached); warm (the same cache again: the tag resolved, the rest
//! loaded from disk). For the Python router (examples/python-router,
//! ~18 MB) and the Rust one (examples/custom-router), each pushed to
//! Debian's docker-registry on loopback.
//!
//! `cargo bench --bench plugin_start` (`-- RUNS`, default 3); prints one
//! table row per router with the median of the runs, and every run.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/registry.rs"]
#[allow(dead_code)]
mod registry;
#[path = "../tests/support/tools.rs"]
#[allow(dead_code)]
mod tools;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

fn python_router() -> PathBuf {
    let out = target_root().join("examples-python/router.wasm");
    let status = Command::new(repo_root().join("examples/python-router/build"))
        .arg(&out)
        .env("BINDERY_TOOLS_VENV", tools::componentize_py_venv())
        .status()
        .expect("running examples/python-router/build");
    assert!(status.success(), "examples/python-router/build failed");
    out
}

fn rust_router() -> PathBuf {
    let target = target_root().join("examples");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root().join("examples/custom-router"))
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
        .expect("running cargo for examples/custom-router");
    assert!(status.success(), "building examples/custom-router failed");
    target.join("wasm32-wasip2/release/custom_router.wasm")
}

/// An upstream that greets every connection.
fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.write_all(b"ok\n");
        }
    });
    addr
}

fn bindery(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bindery"));
    c.args(args);
    c
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `bindery standalone` over `dir` and wait until a connection
/// through the endpoint it prints gets the upstream's greeting.
fn first_serve(dir: &Path, cache: &Path) -> Duration {
    let started = Instant::now();
    let mut child = Killed(
        bindery(&[
            "standalone",
            "--catalog",
            "catalog.yaml",
            "--policy",
            "policy.yaml",
            "--cache-dir",
        ])
        .arg(cache)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
        .spawn()
        .expect("start bindery standalone"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the endpoint line");
    let addr: SocketAddr = line
        .split_once(" -> ")
        .and_then(|(_, a)| a.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no endpoint line ({line:?}); log:\n{}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            )
        });
    loop {
        let mut reply = [0u8; 3];
        let served = TcpStream::connect(addr).and_then(|mut s| s.read_exact(&mut reply));
        if served.is_ok() && &reply == b"ok\n" {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not served in 300 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let registry = registry::Registry::start(registry::Options::default());
    let up = upstream();
    let routers = [
        ("Python (examples/python-router)", python_router()),
        ("Rust (examples/custom-router)", rust_router()),
    ];
    println!(
        "| router | component | new pod (empty cache) | router cold (pull + compile) | warm (cached) | runs (new pod; cold; warm) |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, (name, wasm)) in routers.iter().enumerate() {
        let reference = registry.reference(&format!("bench/router{i}:v1"));
        let out = bindery(&["plugin", "push", wasm.to_str().unwrap(), &reference])
            .arg("--cache-dir")
            .arg(std::env::temp_dir().join("bindery-bench-push"))
            .output()
            .expect("push");
        assert!(
            out.status.success(),
            "push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let size = std::fs::metadata(wasm).expect("component").len();
        let (mut pod, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
        let policy = |plugin: &str| {
            format!(
                "router:\n  plugin: {plugin}\n  config: {{label: tenant, header: x-tenant, default: shared}}\n"
            )
        };
        for _ in 0..runs {
            let dir = tempfile::tempdir().expect("dir");
            std::fs::write(
                dir.path().join("catalog.yaml"),
                format!(
                    "endpoints:\n  - url: tcp://cache.shop:6379\n    labels: {{tenant: shared}}\n    upstreams: [{{address: \"{up}\"}}]\n"
                ),
            )
            .expect("catalog");
            let write_policy = |text: String| {
                std::fs::write(dir.path().join("policy.yaml"), text).expect("policy")
            };
            write_policy(policy(&reference));
            pod.push(first_serve(dir.path(), &dir.path().join("pod-cache")));
            // The built-ins compiled into a new cache by a built-in router.
            let cache = dir.path().join("cache");
            write_policy("router: {plugin: builtin:round-robin}\n".to_string());
            first_serve(dir.path(), &cache);
            write_policy(policy(&reference));
            cold.push(first_serve(dir.path(), &cache));
            warm.push(first_serve(dir.path(), &cache));
        }
        let all = |v: &[Duration]| v.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ");
        println!(
            "| {name} | {:.1} MB | {} | {} | {} | {}; {}; {} |",
            size as f64 / 1e6,
            ms(median(pod.clone())),
            ms(median(cold.clone())),
            ms(median(warm.clone())),
            all(&pod),
            all(&cold),
            all(&warm)
        );
    }
}
