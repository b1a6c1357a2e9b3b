//! A real kube-apiserver for the reconciler's tests: `testenv/start` once
//! per test binary (its own state dir), stopped when the binary exits; the
//! BoundEndpoint CRD applied; `bindery run` started and stopped as a child.
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::forward::{free_port, http_get_on};
use super::{bindery, repo_root, tools, wait_for};

pub struct Cluster {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The state dirs of every control plane this binary started, stopped when
/// it exits.
static STARTED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn stop_testenv() {
    let dirs = std::mem::take(&mut *STARTED.lock().unwrap_or_else(|p| p.into_inner()));
    for dir in dirs {
        let _ = Command::new(repo_root().join("testenv/stop"))
            .env("BINDERY_TESTENV_DIR", &dir)
            .stderr(Stdio::null())
            .status();
    }
}

/// The state dir of test binary `name`'s testenv: `$BINDERY_TESTENV_DIR-<name>`,
/// else `/tmp/bindery-testenv-<name>`.
pub fn testenv_dir(name: &str) -> PathBuf {
    match std::env::var_os("BINDERY_TESTENV_DIR").filter(|d| !d.is_empty()) {
        Some(base) => PathBuf::from(format!("{}-{name}", base.to_string_lossy())),
        None => std::env::temp_dir().join(format!("bindery-testenv-{name}")),
    }
}

/// The cluster of this test binary, started on first use, in
/// `$BINDERY_TESTENV_DIR-<name>` (else `/tmp/bindery-testenv-<name>`): two
/// runs on one machine with their own `BINDERY_TESTENV_DIR` never share
/// an apiserver, nor stop each other's.
pub fn cluster(name: &str) -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start(name))
}

/// One more control plane of this test binary (a hub, a member), in its
/// own state dir named as for [`cluster`]; stopped when the binary exits.
pub fn another(name: &str) -> Cluster {
    Cluster::start(name)
}

impl Cluster {
    /// `testenv/start` in [`testenv_dir`]`(name)`, with the CRD applied.
    fn start(name: &str) -> Cluster {
        let dir = testenv_dir(name);
        // Installs nothing: what is missing fails here, naming testenv/setup.
        let out = Command::new(repo_root().join("testenv/start"))
            .env("BINDERY_TESTENV_DIR", &dir)
            .env("BINDERY_TESTENV_INSTALL", "0")
            .stderr(Stdio::inherit())
            .output()
            .expect("running testenv/start");
        assert!(
            out.status.success(),
            "testenv/start failed (its message is above; a missing tool: run testenv/setup)"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kubeconfig = PathBuf::from(stdout.lines().last().expect("kubeconfig path").trim());
        {
            let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
            if started.is_empty() {
                // SAFETY: registering a plain extern "C" fn with no captured state.
                unsafe { libc::atexit(stop_testenv) };
            }
            started.push(dir.clone());
        }
        let c = Cluster { dir, kubeconfig };
        let crd = bindery().arg("crd").output().expect("bindery crd");
        c.apply(&String::from_utf8_lossy(&crd.stdout));
        c.kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/boundendpoints.bindery.dev",
            "--timeout=30s",
        ]);
        c
    }

    /// Run `testenv/<script>` (`stop-apiserver`, `start-apiserver`) on this
    /// control plane.
    pub fn testenv(&self, script: &str) {
        let status = Command::new(repo_root().join("testenv").join(script))
            .env("BINDERY_TESTENV_DIR", &self.dir)
            .status()
            .expect("running a testenv script");
        assert!(status.success(), "testenv/{script} failed");
    }

    /// Run kubectl; panics with its stderr on failure.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_status(args);
        match out {
            Ok(s) => s,
            Err(e) => panic!("kubectl {args:?}: {e}"),
        }
    }

    pub fn kubectl_status(&self, args: &[&str]) -> Result<String, String> {
        tools::kubectl_output(
            tools::kubectl()
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(args),
        )
    }

    /// `kubectl apply -f -` of a YAML stream.
    pub fn apply(&self, yaml: &str) {
        tools::kubectl_apply(
            tools::kubectl().arg("--kubeconfig").arg(&self.kubeconfig),
            yaml,
        );
    }

    /// A jsonpath of one object, or None when it does not exist.
    pub fn get(&self, kind: &str, ns: &str, name: &str, jsonpath: &str) -> Option<String> {
        self.kubectl_status(&[
            "get",
            kind,
            "-n",
            ns,
            name,
            "-o",
            &format!("jsonpath={jsonpath}"),
        ])
        .ok()
    }

    /// Names of Services in `ns` with the label selector.
    pub fn services(&self, ns: &str, selector: &str) -> Vec<String> {
        let out = self.kubectl(&[
            "get",
            "svc",
            "-n",
            ns,
            "-l",
            selector,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        out.split_whitespace().map(str::to_string).collect()
    }

    /// URL -> forwarder port, from the upstream Services in `op` matching
    /// `selector` (their `bindery.dev/urls` annotation and target port).
    pub fn allocation(&self, op: &str, selector: &str) -> std::collections::BTreeMap<String, u16> {
        let out = self.kubectl(&[
            "get",
            "svc",
            "-n",
            op,
            "-l",
            selector,
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.annotations.bindery\.dev/urls} {.spec.ports[0].targetPort}{"\n"}{end}"#,
        ]);
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(url, port)| (url.to_string(), port.parse().expect("targetPort")))
            .collect()
    }

    /// The audit log's lines so far.
    pub fn audit_len(&self) -> usize {
        std::fs::read_to_string(self.dir.join("audit.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Writes logged after line `from` by Bindery (its user agent) in
    /// `namespaces`, Leases excepted: `verb resource ns/name` each.
    pub fn bindery_writes(&self, from: usize, namespaces: &[&str]) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("audit.log")).unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines().skip(from) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let s = |p: &str| {
                v.pointer(p)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let verb = s("/verb");
            let write = matches!(
                verb.as_str(),
                "create" | "update" | "patch" | "delete" | "deletecollection"
            );
            let ns = s("/objectRef/namespace");
            if write
                && s("/userAgent").starts_with("bindery/")
                && s("/objectRef/resource") != "leases"
                && namespaces.contains(&ns.as_str())
            {
                out.push(format!(
                    "{verb} {} {ns}/{}",
                    s("/objectRef/resource"),
                    s("/objectRef/name")
                ));
            }
        }
        out
    }

    pub fn namespace(&self, ns: &str) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
        ));
    }
}

/// A running `bindery run`; killed on drop, its log shown if the test failed.
pub struct Operator {
    child: Option<Child>,
    pub admin: SocketAddr,
    pub log: PathBuf,
}

impl Operator {
    /// `bindery run --kubeconfig .. --admin <free port> <args>` as pod `pod`.
    pub fn start(cluster: &Cluster, pod: &str, args: &[&str]) -> Operator {
        Operator::start_with(cluster, bindery(), &cluster.kubeconfig, pod, args)
    }

    /// As [`Operator::start`], the binary started by `command` (e.g. in a
    /// network namespace) with `kubeconfig`.
    pub fn start_with(
        cluster: &Cluster,
        mut command: Command,
        kubeconfig: &std::path::Path,
        pod: &str,
        args: &[&str],
    ) -> Operator {
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = cluster.dir.join(format!("{pod}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("operator log");
        let child = command
            .arg("run")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--admin")
            .arg(admin.to_string())
            .args(args)
            .env("POD_NAME", pod)
            .env("RUST_LOG", "info,bindery=debug")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("starting bindery run");
        Operator {
            child: Some(child),
            admin,
            log,
        }
    }

    /// The value of a metric line `name` (with its labels), or 0.
    pub fn metric(&self, name: &str) -> f64 {
        let Ok(body) = http_get(self.admin, "/metrics") else {
            return 0.0;
        };
        body.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// Wait until `n` more whole-catalog passes have run.
    pub fn wait_passes(&self, n: u32) {
        let name = "bindery_reconcile_passes_total";
        let target = self.metric(name) + f64::from(n);
        wait_for(Duration::from_secs(30), &format!("{n} more passes"), || {
            self.metric(name) >= target
        });
    }

    /// `GET path` on the admin server: the body of a 200.
    pub fn admin_get(&self, path: &str) -> std::io::Result<String> {
        http_get(self.admin, path)
    }

    pub fn ready(&self) -> bool {
        http_get(self.admin, "/readyz").is_ok_and(|b| b.starts_with("ok"))
    }

    /// SIGKILL: no Lease release, no drain.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: the Lease is released.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("---- last lines of {} ----", self.log.display());
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// `GET path` on the admin server: the body of a 200. Short timeouts: a
/// poll of an operator that may not be up yet.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    match http_get_on(s, "admin", path, &[])? {
        (200, body) => Ok(body),
        (status, _) => Err(std::io::Error::other(format!("GET {path}: {status}"))),
    }
}

/// A policy directory for `bindery run`: `account`, a forwarder port range
/// of its own from `first` (100 ports) and `extra` lines.
pub fn policy(account: &str, first: u16, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "account: {account}\nports: {{first: {first}, last: {}}}\n{extra}",
        first + 99
    );
    std::fs::write(dir.path().join("policy.yaml"), text).expect("policy");
    dir
}

/// `bindery run`'s arguments for operator namespace `ns` with `policy`,
/// forwarding on `listen`, with short resync and Lease periods for tests.
pub fn op_args<'a>(ns: &'a str, policy: &'a tempfile::TempDir, listen: &'a str) -> Vec<&'a str> {
    let p = policy.path().to_str().expect("utf-8 path");
    vec![
        "--operator-namespace",
        ns,
        "--policy",
        p,
        "--listen",
        listen,
        "--resync-seconds",
        "2",
        "--lease-seconds",
        "3",
    ]
}
