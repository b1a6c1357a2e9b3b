//! The external programs the tests run, where `testenv/setup` installs
//! them. Tests never install anything: a missing program fails the test at
//! once, naming the script.
use std::path::PathBuf;
use std::process::Command;

/// `testenv/setup`'s cache: `$BINDERY_TESTENV_CACHE`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/bindery-testenv` (as `testenv/versions.sh`).
pub fn cache() -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("BINDERY_TESTENV_CACHE") {
        return PathBuf::from(dir);
    }
    let base = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(set("HOME").expect("HOME is set")).join(".cache"));
    base.join("bindery-testenv")
}

fn missing(what: &str) -> ! {
    panic!("{what}: run testenv/setup (it installs every tool the tests need)")
}

/// A program `testenv/setup` builds (`kubectl`, `helm`): its link in
/// `<cache>/bin`.
pub fn built(name: &str) -> PathBuf {
    let path = cache().join("bin").join(name);
    if !path.exists() {
        missing(&format!("{} is missing", path.display()));
    }
    path
}

/// A program from a Debian package (`redis-server`, ...): on PATH.
pub fn on_path(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    if !found {
        missing(&format!("{name} is not on PATH"));
    }
    Command::new(name)
}

/// `kubectl` of testenv's Kubernetes version, in the repository root
/// (`apply -k deploy/kustomize`).
pub fn kubectl() -> Command {
    let mut cmd = Command::new(built("kubectl"));
    cmd.current_dir(super::repo_root());
    cmd
}

/// The pinned Helm that `testenv/setup` builds, in the repository root,
/// with no user's repositories or plugins: only the chart in the tree.
pub fn helm() -> Command {
    let mut cmd = Command::new(built("helm"));
    let config = std::env::temp_dir().join(format!("bindery-deploy-helm-{}", std::process::id()));
    cmd.env("HELM_CONFIG_HOME", config.join("config"))
        .env("HELM_CACHE_HOME", config.join("cache"))
        .env("HELM_DATA_HOME", config.join("data"))
        .current_dir(super::repo_root());
    cmd
}

/// Run a kubectl command: stdout, or stderr as the error.
pub fn kubectl_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().expect("running kubectl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `kubectl apply -f -` of a YAML stream through `cmd` (kubectl with its
/// kubeconfig); panics with kubectl's stderr and the YAML on failure.
pub fn kubectl_apply(cmd: &mut Command, yaml: &str) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl apply");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("writing yaml");
    let out = child.wait_with_output().expect("kubectl apply");
    assert!(
        out.status.success(),
        "kubectl apply: {}\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run and return stdout; panic with the command and both streams on failure.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The venv holding componentize-py, checked to have the version
/// `examples/python-router/build` pins, so that the script builds without
/// installing: `$BINDERY_TOOLS_VENV`, else `<cache>/venv`.
pub fn componentize_py_venv() -> PathBuf {
    let venv = std::env::var_os("BINDERY_TOOLS_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv"));
    let script = super::repo_root().join("examples/python-router/build");
    let text = std::fs::read_to_string(&script).expect("reading examples/python-router/build");
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .expect("a version= line in examples/python-router/build");
    let want = format!("componentize-py {version}");
    let got = Command::new(venv.join("bin/componentize-py"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if got != want {
        missing(&format!(
            "{want} is not in {} (found {got:?})",
            venv.display()
        ));
    }
    venv
}

/// kube-proxy of testenv's Kubernetes version (direct mode's tests run it
/// in a network namespace of their own).
pub fn kube_proxy() -> PathBuf {
    built("kube-proxy")
}
