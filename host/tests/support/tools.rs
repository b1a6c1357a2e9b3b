//! The pinned command-line tools the deploy and node tests drive the
//! cluster with: Helm (built with `go install` into a cache outside the
//! clone) and a kubectl recent enough for the kustomize base.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use super::repo_root;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The Helm release `go install` builds; the same link flags as Helm's own
/// Makefile, so `helm version` and the default Kubernetes version are right.
const HELM_VERSION: &str = "v3.21.4";
const HELM_K8S_MINOR: &str = "36";
/// The kubectl built when the machine has none recent enough: testenv's.
const TESTENV_KUBE: &str = "v1.33.13";

/// Run and return stdout; panic with the command and both streams on failure.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The pinned Helm, built once with Go into
/// `~/.cache/bindery-tools/helm-<version>/helm`.
pub fn helm() -> Command {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    let path = HELM.get_or_init(|| {
        let home = std::env::var_os("HOME").expect("HOME is set");
        let dir = Path::new(&home)
            .join(".cache/bindery-tools")
            .join(format!("helm-{HELM_VERSION}"));
        let bin = dir.join("helm");
        if bin.exists() {
            return bin;
        }
        // Into a fresh directory, then renamed: a build cut short leaves
        // nothing that looks installed.
        let staging = dir.with_file_name(format!("helm-{HELM_VERSION}.tmp-{}", std::process::id()));
        std::fs::create_dir_all(&staging).expect("creating the helm staging dir");
        let ldflags = [
            format!("-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"),
            "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1".to_string(),
            format!("-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={HELM_K8S_MINOR}"),
            "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1".to_string(),
            format!("-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor={HELM_K8S_MINOR}"),
        ]
        .join(" ");
        let started = std::time::Instant::now();
        eprintln!("installing helm {HELM_VERSION} with go install (a few minutes the first time)");
        run_ok(
            Command::new("go")
                .args(["install", "-trimpath", &format!("-ldflags={ldflags}")])
                .arg(format!("helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"))
                .env("GOBIN", &staging)
                .env("CGO_ENABLED", "0")
                .current_dir(&staging),
        );
        eprintln!("helm installed in {:?}", started.elapsed());
        match std::fs::rename(&staging, &dir) {
            Ok(()) => {}
            // Another test process won the race: use its copy.
            Err(_) if bin.exists() => {
                let _ = std::fs::remove_dir_all(&staging);
            }
            Err(e) => panic!("moving {} to {}: {e}", staging.display(), dir.display()),
        }
        bin
    });
    let mut cmd = Command::new(path);
    // No user's repositories or plugins: only the chart in the tree.
    let config = std::env::temp_dir().join(format!("bindery-deploy-helm-{}", std::process::id()));
    cmd.env("HELM_CONFIG_HOME", config.join("config"))
        .env("HELM_CACHE_HOME", config.join("cache"))
        .env("HELM_DATA_HOME", config.join("data"))
        .current_dir(repo_root());
    cmd
}

/// kubectl 1.27 or later (its kustomize v5 knows the base's `labels` field):
/// the machine's, else one built with Go by `testenv/build-kube-apiserver`
/// into `~/.cache/bindery-tools/kubectl-<testenv's version>`.
pub fn kubectl() -> Command {
    static KUBECTL: OnceLock<PathBuf> = OnceLock::new();
    let path = KUBECTL.get_or_init(|| {
        let minor = Command::new("kubectl")
            .args(["version", "--client", "-o", "json"])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
            .and_then(|v| {
                let minor = v["clientVersion"]["minor"].as_str()?.trim_end_matches('+');
                minor.parse::<u32>().ok()
            });
        if minor.is_some_and(|m| m >= 27) {
            return PathBuf::from("kubectl");
        }
        let home = std::env::var_os("HOME").expect("HOME is set");
        let bin = Path::new(&home).join(format!(".cache/bindery-tools/kubectl-{TESTENV_KUBE}"));
        if !bin.exists() {
            eprintln!(
                "kubectl on PATH is missing or older than 1.27 ({minor:?}): building {}",
                bin.display()
            );
            run_ok(
                Command::new(repo_root().join("testenv/build-kube-apiserver"))
                    .arg(&bin)
                    .arg("kubectl")
                    .env("BINDERY_TESTENV_KUBE_VERSION", TESTENV_KUBE),
            );
        }
        bin
    });
    let mut cmd = Command::new(path);
    cmd.current_dir(repo_root());
    cmd
}
