//! The image `deploy/image/build` makes, run the way a node runs it: by
//! runc (through podman), as its non-root user, on a read-only root
//! filesystem with every capability dropped and open files and processes
//! limited to what this machine allows. `bindery --version`, then a
//! `standalone` forward to two upstreams, one named only in the
//! container's /etc/hosts (the image's libc and nsswitch.conf resolve it).
mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::forward::{Server, free_port, tagged};
use support::repo_root;
use support::tools::on_path;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Rootful podman without systemd or journald, with runc.
fn podman() -> Command {
    let mut c = on_path("podman");
    c.args(["--cgroup-manager=cgroupfs", "--events-backend=file"]);
    c
}

/// `podman run` as the manifests run the image: the limits at or below the
/// host's (an OCI runtime without CAP_SYS_RESOURCE cannot raise them), the
/// host's network (no CNI, so no NAT rule in the machine's namespace).
fn run_args(image: &str) -> Vec<String> {
    [
        "--pull=never",
        "--runtime=runc",
        "--ulimit=nofile=1024:1024",
        "--ulimit=nproc=1024:1024",
        "--network=host",
        "--read-only",
        "--tmpfs=/tmp",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        image,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn preflight() {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "the image test runs rootful podman: run `cargo test --release` as root"
    );
    for tool in ["buildah", "podman", "runc"] {
        on_path(tool);
    }
}

/// Removes the test's image from buildah's store when the test ends.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("buildah")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// Removes the container when the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(out) = podman().args(["logs", &self.0]).output()
        {
            eprintln!(
                "---- container log ----\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        let _ = podman().args(["rm", "-f", "-t", "0", &self.0]).output();
    }
}

fn greeting(addr: SocketAddr) -> std::io::Result<String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(line.trim().to_string())
}

#[test]
fn image_runs_as_non_root_and_forwards() {
    preflight();
    let image = Image(format!("bindery-image-test:{}", std::process::id()));
    // Around the binary every other test runs: no build of its own.
    let built = Command::new(repo_root().join("deploy/image/build"))
        .args(["--tag", &image.0, "--binary", env!("CARGO_BIN_EXE_bindery")])
        .output()
        .expect("running deploy/image/build");
    let last = ok(built, "deploy/image/build");
    assert_eq!(last.lines().last(), Some(image.0.as_str()));

    let config = ok(
        podman()
            .args(["image", "inspect", "--format"])
            .arg("{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}")
            .arg(&image.0)
            .output()
            .unwrap(),
        "podman image inspect",
    );
    assert_eq!(
        config.trim(),
        r#"65532:65532 ["/usr/local/bin/bindery"] ["run"]"#
    );

    let version = ok(
        podman()
            .arg("run")
            .arg("--rm")
            .args(run_args(&image.0))
            .arg("--version")
            .output()
            .unwrap(),
        "bindery --version in the image",
    );
    assert_eq!(
        version.trim(),
        format!("bindery {}", env!("CARGO_PKG_VERSION"))
    );

    // Two upstreams, one by a name only the container's /etc/hosts knows.
    let servers = [Server::start(tagged(0)), Server::start(tagged(1))];
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let catalog = format!(
        "endpoints:\n  - url: tcp://db.test:5432\n    upstreams:\n      - {{address: \"upstream-0.image.test:{}\"}}\n      - {{address: \"{}\"}}\n",
        servers[0].addr.port(),
        servers[1].addr
    );
    std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        format!("ports: {{first: {port}, last: {port}}}\n"),
    )
    .unwrap();
    // Readable by the image's user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["catalog.yaml", "policy.yaml"] {
        std::fs::set_permissions(dir.path().join(f), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let name = format!("bindery-image-test-{}", std::process::id());
    let _container = Container(name.clone());
    ok(
        podman()
            .args(["run", "-d", "--name", &name])
            .arg(format!("--volume={}:/config:ro", dir.path().display()))
            .arg("--add-host=upstream-0.image.test:127.0.0.1")
            .args(run_args(&image.0))
            .args([
                "standalone",
                "--catalog",
                "/config/catalog.yaml",
                "--policy",
                "/config",
                "--listen",
                "127.0.0.1",
            ])
            .output()
            .unwrap(),
        "podman run standalone",
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the container's forwarder on {addr} reached only {seen:?}"
        );
        match greeting(addr) {
            Ok(tag) => {
                seen.insert(tag);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["0", "1"]);

    // SIGTERM drains and exits 0.
    ok(
        podman().args(["stop", "-t", "60", &name]).output().unwrap(),
        "podman stop",
    );
    let code = ok(
        podman()
            .args(["inspect", "--format", "{{.State.ExitCode}}", &name])
            .output()
            .unwrap(),
        "podman inspect",
    );
    assert_eq!(
        code.trim(),
        "0",
        "bindery standalone's exit code after SIGTERM"
    );
}
