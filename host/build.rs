//! Builds the built-in plugins (`plugins/`, a workspace of its own) for
//! `wasm32-wasip2` and embeds the components: one `cargo build --release` of
//! the host is all a fresh clone needs.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Built-in name, crate file stem, world.
const BUILTINS: &[(&str, &str, &str)] = &[
    ("cel", "bindery_plugin_cel", "Selector"),
    ("naming-default", "bindery_plugin_naming_default", "Naming"),
    ("round-robin", "bindery_plugin_round_robin", "Router"),
    (
        "least-connections",
        "bindery_plugin_least_connections",
        "Router",
    ),
    ("weighted", "bindery_plugin_weighted", "Router"),
    (
        "consistent-hash",
        "bindery_plugin_consistent_hash",
        "Router",
    ),
];

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let plugins = root.join("plugins");
    watch(&plugins);
    watch(&root.join("wit"));

    let target_root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // wit-bindgen reads the WIT files at compile time, and cargo does not
    // know it: a target dir of their own per WIT digest rebuilds the
    // plugins when the contract changes.
    let digest = wit_digest(&root.join("wit"));
    // The tests build their guests the same way (`BINDERY_WIT_DIGEST`).
    println!("cargo:rustc-env=BINDERY_WIT_DIGEST={digest}");
    let target_dir = target_root.join(format!("wasm-plugins-{digest}"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    // `fuzz/run` builds the host with nightly, which may lack the guests'
    // target: it names the project's toolchain for the guests instead.
    println!("cargo:rerun-if-env-changed=BINDERY_GUEST_TOOLCHAIN");
    let mut cmd = match std::env::var("BINDERY_GUEST_TOOLCHAIN") {
        Ok(toolchain) => {
            let mut c = Command::new("rustup");
            c.args(["run", &toolchain, "cargo"]).env_remove("RUSTC");
            c
        }
        Err(_) => Command::new(cargo),
    };
    cmd.current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    // The host build's flags and wrappers (clippy, coverage, ...) are not the
    // guests' business.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let drop = (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_MAKEFLAGS")
            || matches!(
                key.as_str(),
                "RUSTFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "CLIPPY_ARGS"
                    | "RUSTDOCFLAGS"
            );
        if drop {
            cmd.env_remove(&key);
        }
    }
    let status = cmd
        .status()
        .expect("running cargo for the built-in plugins");
    if !status.success() {
        panic!(
            "building the built-in plugins failed (see above). If the error says the target is missing, run `rustup target add wasm32-wasip2`."
        );
    }

    let out = target_dir.join("wasm32-wasip2").join("release");
    let mut table = String::from(
        "/// Built-in plugins: name, world, component bytes.\npub static BUILTINS: &[(&str, World, &[u8])] = &[\n",
    );
    for (name, stem, world) in BUILTINS {
        let file = out.join(format!("{stem}.wasm"));
        assert!(
            file.exists(),
            "built-in plugin {name} was not produced at {}",
            file.display()
        );
        table.push_str(&format!(
            "    ({name:?}, World::{world}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("builtins.rs"), table).expect("writing builtins.rs");
}

/// The first 12 hex digits of SHA-256 over the WIT files, by name order.
fn wit_digest(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reading wit/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    files.sort();
    let mut hash = Sha256::new();
    for f in files {
        hash.update(std::fs::read(&f).expect("reading a WIT file"));
    }
    hex::encode(&hash.finalize()[..6])
}

/// Rerun when any source of the plugins or the WIT package changes.
fn watch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
