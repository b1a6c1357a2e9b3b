//! Plugins from a real OCI registry on loopback (Debian's docker-registry):
//! `bindery plugin push` and `plugin check` by tag and by digest, a mirror,
//! TLS with a CA the test makes, htpasswd credentials, altered content
//! refused, a moved tag picked up by a running `bindery standalone` without
//! dropping a connection, and the cache serving (and a restart starting)
//! while the registry is down.
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use support::forward::Standalone;
use support::registry::{Options, Registry, free_addr};

/// `bindery ARGS --cache-dir CACHE`.
fn bindery(cache: &Path, args: &[&str]) -> Output {
    support::bindery()
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .output()
        .expect("run bindery")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A built-in component written to a file, to push.
fn builtin_file(dir: &Path, name: &str) -> PathBuf {
    let (_, bytes) = bindery::plugin::builtin::get(name).expect("a built-in");
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).expect("write component");
    path
}

/// `bindery plugin push`; the manifest digest it printed.
fn push(cache: &Path, file: &Path, reference: &str, extra: &[&str]) -> String {
    let mut args = vec!["plugin", "push", file.to_str().unwrap(), reference];
    args.extend_from_slice(extra);
    let out = bindery(cache, &args);
    assert!(out.status.success(), "push {reference}: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest: "))
        .unwrap_or_else(|| panic!("no digest in {stdout}"))
        .to_string()
}

/// The line `key: value` of `bindery plugin check`'s output.
fn field(out: &Output, key: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{key}: "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no {key} in {}", text(out)))
}

#[test]
fn push_and_pull_by_tag_and_by_digest_and_through_a_mirror() {
    let registry = Registry::start(Options::default());
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let rr = builtin_file(work.path(), "round-robin");
    let tag = registry.reference("routers/rr:v1");
    let digest = push(&cache, &rr, &tag, &[]);
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    // By tag: the world, the manifest digest, where it came from.
    let fresh = work.path().join("fresh-cache");
    let out = bindery(&fresh, &["plugin", "check", &tag]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("world router"), "{}", text(&out));
    assert_eq!(field(&out, "manifest"), digest);
    assert_eq!(field(&out, "layer"), "application/wasm");
    assert_eq!(
        field(&out, "source"),
        format!("pulled from {}", registry.host())
    );
    let component = field(&out, "sha256");
    assert_eq!(
        component,
        hex::encode(sha2::Sha256::digest(std::fs::read(&rr).unwrap())),
        "the component pulled is the one pushed"
    );

    // By digest: served from the cache this time, with no registry needed.
    let pinned = format!("oci://{}/routers/rr@{digest}", registry.host());
    let out = bindery(&fresh, &["plugin", "check", &pinned]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(field(&out, "source"), "cache");
    assert_eq!(field(&out, "sha256"), component);

    // A digest the registry does not hold, and a tag never pushed.
    let unknown = format!(
        "oci://{}/routers/rr@sha256:{}",
        registry.host(),
        "0".repeat(64)
    );
    let out = bindery(&fresh, &["plugin", "check", &unknown]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not found in registry"),
        "{}",
        text(&out)
    );
    let out = bindery(
        &fresh,
        &["plugin", "check", &registry.reference("routers/rr:v9")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not found in registry") && text(&out).contains("bindery plugin push"),
        "{}",
        text(&out)
    );

    // The registry named by the reference is down; its mirror serves.
    let gone = free_addr();
    let via_mirror = format!("oci://{gone}/routers/rr:v1");
    let out = bindery(
        &work.path().join("mirror-cache"),
        &[
            "plugin",
            "check",
            &via_mirror,
            "--registry-mirror",
            &format!("{gone}={}", registry.host()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        field(&out, "source"),
        format!("pulled from {}", registry.host())
    );
    assert_eq!(field(&out, "manifest"), digest);
    // Without the mirror: the error names the registry and the fix.
    let out = bindery(
        &work.path().join("no-mirror"),
        &["plugin", "check", &via_mirror],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&format!("cannot reach registry {gone}"))
            && text(&out).contains("--registry-mirror"),
        "{}",
        text(&out)
    );

    // What is not a component is never pushed.
    let junk = work.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let out = bindery(
        &cache,
        &[
            "plugin",
            "push",
            junk.to_str().unwrap(),
            &registry.reference("routers/junk:v1"),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("was not pushed"), "{}", text(&out));
    let out = bindery(
        &fresh,
        &["plugin", "check", &registry.reference("routers/junk:v1")],
    );
    assert!(text(&out).contains("not found"), "{}", text(&out));
}

#[test]
fn altered_content_is_refused_and_a_damaged_cache_refetched() {
    let registry = Registry::start(Options::default());
    let work = tempfile::tempdir().unwrap();
    let rr = builtin_file(work.path(), "round-robin");
    let tag = registry.reference("routers/rr:v1");
    let digest = push(&work.path().join("push-cache"), &rr, &tag, &[]);
    let pinned = format!("oci://{}/routers/rr@{digest}", registry.host());

    // A pull fills the cache; damage the component there: it is noticed,
    // discarded and pulled again.
    let cache = work.path().join("cache");
    let out = bindery(&cache, &["plugin", "check", &pinned]);
    assert!(out.status.success(), "{}", text(&out));
    let layer = format!("sha256:{}", field(&out, "sha256"));
    let cached = cache
        .join("oci/blobs/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&cached).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&cached, &bytes).unwrap();
    let out = bindery(&cache, &["plugin", "check", &pinned]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        field(&out, "source"),
        format!("pulled from {}", registry.host())
    );
    assert!(
        text(&out).contains("does not match its digest"),
        "the discarded entry is reported: {}",
        text(&out)
    );

    // The registry's own copy altered on disk: refused, by tag and by digest.
    let stored = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&stored, &bytes).unwrap();
    for reference in [&pinned, &tag] {
        let out = bindery(
            &work.path().join("other-cache"),
            &["plugin", "check", reference],
        );
        assert!(!out.status.success(), "{reference}: {}", text(&out));
        assert!(
            text(&out).contains("refused") && text(&out).contains(&layer),
            "{reference}: {}",
            text(&out)
        );
    }
}

#[test]
fn tls_and_credentials_are_asked_for_by_name() {
    let registry = Registry::start(Options {
        tls: true,
        htpasswd: Some(("team".into(), "s3cret".into())),
    });
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let rr = builtin_file(work.path(), "round-robin");
    let tag = registry.reference("routers/rr:v1");
    let ca = registry.ca();
    let ca = ca.to_str().unwrap();
    let good = registry.auth_file("team", "s3cret");
    let bad = registry.auth_file("team", "wrong");
    let rr_path = rr.to_str().unwrap();

    // No CA: the TLS error says how to give one.
    let out = bindery(
        &cache,
        &[
            "plugin",
            "push",
            rr_path,
            &tag,
            "--registry-auth",
            good.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("--registry-ca"), "{}", text(&out));
    // No credentials, then wrong ones: each named.
    let out = bindery(
        &cache,
        &["plugin", "push", rr_path, &tag, "--registry-ca", ca],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("give credentials for it"),
        "{}",
        text(&out)
    );
    let out = bindery(
        &cache,
        &[
            "plugin",
            "push",
            rr_path,
            &tag,
            "--registry-ca",
            ca,
            "--registry-auth",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("were refused"), "{}", text(&out));
    // Both: pushed, and pulled back over TLS.
    let digest = push(
        &cache,
        &rr,
        &tag,
        &[
            "--registry-ca",
            ca,
            "--registry-auth",
            good.to_str().unwrap(),
        ],
    );
    let out = bindery(
        &work.path().join("pull"),
        &[
            "plugin",
            "check",
            &tag,
            "--registry-ca",
            ca,
            "--registry-auth",
            good.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(field(&out, "manifest"), digest);
    let out = bindery(
        &work.path().join("pull2"),
        &["plugin", "check", &tag, "--registry-ca", ca],
    );
    assert!(
        !out.status.success(),
        "anonymous pulls are refused too: {}",
        text(&out)
    );
}

// ---------------------------------------------------------- standalone ----

/// Upstreams that send their index on connect, then echo.
fn echo_upstreams(n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            std::thread::spawn(move || {
                for mut s in l.incoming().flatten() {
                    std::thread::spawn(move || {
                        if s.write_all(format!("{i}\n").as_bytes()).is_err() {
                            return;
                        }
                        let mut buf = [0u8; 256];
                        while let Ok(n @ 1..) = s.read(&mut buf) {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    });
                }
            });
            addr
        })
        .collect()
}

/// Which upstream one new connection reached.
fn ask(addr: SocketAddr) -> std::io::Result<usize> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad reply {line:?}")))
}

fn catalog(ups: &[SocketAddr]) -> String {
    let ups: Vec<String> = ups
        .iter()
        .map(|a| format!("      - address: {a}\n"))
        .collect();
    format!(
        "endpoints:\n  - url: tcp://db.team:5432\n    upstreams:\n{}",
        ups.concat()
    )
}

fn policy(reference: &str) -> String {
    format!("router: {{plugin: '{reference}', config: {{}}}}\n")
}

/// The upstreams new connections reach, over 12 of them.
fn spread(addr: SocketAddr) -> std::collections::BTreeSet<usize> {
    (0..12).filter_map(|_| ask(addr).ok()).collect()
}

fn wait_for(what: &str, fwd: &Standalone, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what} within 60 s; log:\n{}",
            fwd.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn admin_plugins(admin: SocketAddr) -> serde_json::Value {
    let mut s = TcpStream::connect(admin).expect("admin");
    s.write_all(b"GET /v1/plugins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

fn router_view(admin: SocketAddr) -> serde_json::Value {
    let v = admin_plugins(admin);
    v["plugins"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["world"] == "router").cloned())
        .unwrap_or_else(|| panic!("no router in {v}"))
}

#[test]
fn a_moved_tag_reloads_a_running_standalone_without_dropping_a_connection() {
    let registry = Registry::start(Options::default());
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let cache_arg = cache.to_str().unwrap().to_string();
    let tag = registry.reference("routers/tenant:live");
    let rr = builtin_file(work.path(), "round-robin");
    let cel = builtin_file(work.path(), "cel");
    let v1 = push(&cache, &rr, &tag, &[]);

    let ups = echo_upstreams(3);
    let admin = free_addr().to_string();
    let fwd = Standalone::start_with(
        &policy(&tag),
        &catalog(&ups),
        &[],
        1,
        &[
            "--cache-dir",
            &cache_arg,
            "--registry-refresh-seconds",
            "1",
            "--admin",
            &admin,
        ],
    );
    let admin: SocketAddr = admin.parse().unwrap();
    let addr = fwd.addr;
    assert_eq!(
        spread(addr).len(),
        3,
        "round-robin from the registry spreads"
    );
    let view = router_view(admin);
    assert_eq!(view["artifact"]["reference"], tag.as_str());
    assert_eq!(view["artifact"]["manifest"], v1.as_str());

    // A connection held open across every swap.
    let mut held = TcpStream::connect(addr).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(held.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();

    // The tag moves to a router that sends everything to upstream 0.
    let pin = support::guest_path("hostile_router");
    let v2 = push(&cache, &pin, &tag, &[]);
    assert_ne!(v1, v2);
    wait_for("the moved tag in effect", &fwd, || {
        spread(addr) == [0].into()
    });
    assert_eq!(router_view(admin)["artifact"]["manifest"], v2.as_str());
    assert!(fwd.log().contains("plugin tag moved"), "{}", fwd.log());

    // A bad build under the tag (a selector where a router goes): refused,
    // reported, and the pinning router stays.
    let v3 = push(&cache, &cel, &tag, &[]);
    wait_for("the failed reload reported", &fwd, || {
        admin_plugins(admin)["last_failure"]["errors"]
            .to_string()
            .contains("implements the selector world")
    });
    assert_eq!(
        spread(addr),
        [0].into(),
        "the previous generation still routes"
    );
    assert_eq!(router_view(admin)["artifact"]["manifest"], v2.as_str());
    let _ = v3;

    held.write_all(b"still here\n").unwrap();
    let mut echo = String::new();
    reader.read_line(&mut echo).unwrap();
    assert_eq!(
        echo, "still here\n",
        "the held connection lived through both reloads"
    );
}

#[test]
fn the_cache_serves_while_the_registry_is_down_and_a_restart_starts_from_it() {
    let mut registry = Registry::start(Options::default());
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let cache_arg = cache.to_str().unwrap().to_string();
    let tag = registry.reference("routers/pin:v1");
    let digest = push(&cache, &support::guest_path("hostile_router"), &tag, &[]);
    let pinned = format!("oci://{}/routers/pin@{digest}", registry.host());
    let ups = echo_upstreams(3);
    let start = |reference: &str, admin: &str| {
        Standalone::start_with(
            &policy(reference),
            &catalog(&ups),
            &[],
            1,
            &["--cache-dir", &cache_arg, "--admin", admin],
        )
    };
    let admin = free_addr().to_string();
    let fwd = start(&tag, &admin);
    assert_eq!(spread(fwd.addr), [0].into());

    // The registry stops; a reload (the policy rewritten) keeps serving
    // the same digest from the cache, and says so.
    registry.stop();
    let text = policy(&tag) + "# touched\n";
    std::fs::write(fwd.dir.path().join("policy.yaml"), text).unwrap();
    let admin: SocketAddr = admin.parse().unwrap();
    wait_for("a reload from the cache", &fwd, || {
        router_view(admin)["artifact"]["source"]
            .as_str()
            .is_some_and(|s| s.contains("registry unreachable"))
    });
    assert_eq!(router_view(admin)["artifact"]["manifest"], digest.as_str());
    assert_eq!(spread(fwd.addr), [0].into());
    drop(fwd);

    // A restart with the registry still down starts from the cache, by
    // tag (its last digest) and by digest.
    for reference in [&tag, &pinned] {
        let admin = free_addr().to_string();
        let fwd = start(reference, &admin);
        assert_eq!(spread(fwd.addr), [0].into(), "{reference}");
        let view = router_view(admin.parse().unwrap());
        assert_eq!(view["artifact"]["manifest"], digest.as_str(), "{reference}");
    }

    // An empty cache and no registry: the error names both.
    let out = bindery(&work.path().join("empty"), &["plugin", "check", &tag]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("no earlier resolution of this tag is cached"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

use sha2::Digest as _;
