//! Hostile guests, built from `tests/guests/`, are contained: each failure is
//! a clear error, the host stays up, the failing instance alone is discarded
//! and the other plugins keep working.
mod support;

use bindery::catalog::parse_str;
use bindery::pipeline::Allocation;
use bindery::pipeline::{self, RejectKind};
use bindery::plugin::router::RouterWorld;
use bindery::plugin::selector::SelectorWorld;
use bindery::plugin::{Decision, Generation, PluginError};
use bindery::policy::{self, Limits, PluginRef};
use serde_json::json;
use support::{dir_with, guest, runtime, uniform};

fn limits(memory_mib: u32, timeout_ms: u32) -> Limits {
    Limits {
        memory_mib,
        timeout_ms,
    }
}

fn router(mode: &str, l: Limits) -> std::sync::Arc<bindery::plugin::RouterPlugin> {
    runtime()
        .load_bytes::<RouterWorld>(
            "hostile-router.wasm",
            &guest("hostile_router"),
            &json!({ "mode": mode }),
            l,
        )
        .expect("hostile router loads")
}

#[test]
fn infinite_loop_hits_the_deadline_and_falls_back() {
    let r = router("loop", limits(64, 50));
    let routed = uniform(3).route(&r, "1.2.3.4");
    assert!(
        matches!(
            routed.fallback,
            Some(PluginError::Deadline { timeout_ms: 50, .. })
        ),
        "{routed:?}"
    );
    match routed.decision {
        Decision::Try(order) => assert_eq!(order.len(), 3),
        other => panic!("fallback must route: {other:?}"),
    }
    assert_eq!(r.counters().traps.get(), 1);
    assert_eq!(r.counters().fallbacks.get(), 1);
    // A healthy plugin of the same runtime is unaffected.
    let rr = runtime()
        .load::<RouterWorld>(
            &PluginRef::builtin("round-robin"),
            std::path::Path::new("."),
        )
        .unwrap();
    assert!(uniform(3).route(&rr, "1.2.3.4").fallback.is_none());
}

#[test]
fn huge_allocation_hits_the_memory_cap() {
    let r = router("alloc", limits(32, 5_000));
    let err = r
        .route_raw(uniform(2).input("1.2.3.4", None), &uniform(2).candidates)
        .0
        .expect_err("the allocation must fail");
    let text = err.to_string();
    assert!(matches!(err, PluginError::Trap { .. }), "{text}");
    assert!(
        text.contains("memory"),
        "the error should say memory: {text}"
    );
}

#[test]
fn a_trap_discards_only_that_instance() {
    let r = router("trap-if", limits(64, 100));
    let good = uniform(2).route(&r, "1.2.3.4");
    assert!(good.fallback.is_none());
    let before = r.counters().instantiations.get();
    let bad = uniform(2).route(&r, "6.6.6.6");
    match &bad.fallback {
        Some(PluginError::Trap { detail, .. }) => {
            assert!(detail.contains("unreachable"), "{detail}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    // The next call gets a fresh instance and succeeds.
    let again = uniform(2).route(&r, "1.2.3.4");
    assert!(again.fallback.is_none(), "{again:?}");
    assert_eq!(
        r.counters().instantiations.get(),
        before + 1,
        "exactly one re-instantiation"
    );
    assert_eq!(r.counters().traps.get(), 1);
}

#[test]
fn an_instance_is_reused_between_calls() {
    let r = router("count", limits(64, 100));
    let counts: Vec<Decision> = (0..3)
        .map(|_| uniform(1).route(&r, "1.2.3.4").decision)
        .collect();
    assert_eq!(
        counts,
        vec![
            Decision::Reject("1".into()),
            Decision::Reject("2".into()),
            Decision::Reject("3".into())
        ]
    );
}

#[test]
fn each_calling_thread_keeps_its_own_router_instance() {
    let r = router("count", limits(64, 100));
    let count = || uniform(1).route(&r, "1.2.3.4").decision;
    let reject = |n: &str| Decision::Reject(n.into());
    assert_eq!(count(), reject("1"));
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(count(), reject("1"), "another thread, another instance");
            assert_eq!(count(), reject("2"));
        });
    });
    assert_eq!(
        count(),
        reject("2"),
        "this thread's instance kept its state"
    );
    assert_eq!(r.counters().instantiations.get(), 2);
}

#[test]
fn a_dropped_router_takes_its_per_thread_instances_along() {
    // More generations than the engine's pool has instances (1,000): one
    // thread keeping the instances of routers dropped by reloads would run
    // the pool dry.
    let rt = runtime();
    let bytes = guest("hostile_router");
    for generation in 0..1_100 {
        let r = rt
            .load_bytes::<RouterWorld>(
                "hostile-router.wasm",
                &bytes,
                &json!({ "mode": "count" }),
                limits(64, 100),
            )
            .unwrap_or_else(|e| panic!("generation {generation}: {e}"));
        let routed = uniform(1).route(&r, "1.2.3.4");
        assert_eq!(routed.decision, Decision::Reject("1".into()), "{routed:?}");
    }
}

#[test]
fn guests_reach_no_filesystem_environment_or_network() {
    let r = router("escape", limits(64, 1_000));
    let routed = uniform(1).route(&r, "1.2.3.4");
    let Decision::Reject(report) = routed.decision else {
        panic!("escape mode reports by rejecting: {routed:?}")
    };
    assert!(report.contains("file=denied"), "{report}");
    assert!(report.contains("dir=denied"), "{report}");
    assert!(report.contains("env=0"), "{report}");
    assert!(report.contains("net=denied"), "{report}");
}

#[test]
fn out_of_range_indices_fall_back() {
    let r = router("bad-index", limits(64, 100));
    let routed = uniform(2).route(&r, "1.2.3.4");
    let err = routed
        .fallback
        .expect("bad indices are a failure")
        .to_string();
    assert!(err.contains("out of range"), "{err}");
    assert!(matches!(routed.decision, Decision::Try(ref o) if o.len() == 2));
}

#[test]
fn configure_failures_are_reported_at_load() {
    let rt = runtime();
    let bytes = guest("hostile_router");
    let looped = rt.load_bytes::<RouterWorld>(
        "r.wasm",
        &bytes,
        &json!({"mode": "configure-loop"}),
        limits(64, 50),
    );
    assert!(
        matches!(
            looped,
            Err(PluginError::Deadline {
                call: "configure",
                ..
            })
        ),
        "{:?}",
        looped.err()
    );
    let refused = rt.load_bytes::<RouterWorld>(
        "r.wasm",
        &bytes,
        &json!({"mode": "configure-error"}),
        limits(64, 50),
    );
    match refused {
        Err(PluginError::Config { message, .. }) => {
            assert!(message.contains("refuses"), "{message}")
        }
        other => panic!("expected a config error, got {:?}", other.err()),
    }
}

#[test]
fn wrong_world_and_garbage_are_named() {
    let rt = runtime();
    let naming = guest("hostile_naming");
    let err = rt
        .load_bytes::<RouterWorld>("n.wasm", &naming, &json!({}), Limits::default())
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::WrongWorld { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("implements the naming world but is used as a router"),
        "{err}"
    );
    let err = rt
        .load_bytes::<SelectorWorld>("junk.wasm", b"\0asm junk", &json!({}), Limits::default())
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");
}

#[test]
fn a_component_built_against_another_contract_version_is_named() {
    let rt = runtime();
    let old = wat::parse_str(r#"(component (import "bindery:plugin/log@0.1.0" (instance)))"#)
        .expect("test component");
    let err = rt
        .load_bytes::<RouterWorld>("old.wasm", &old, &json!({}), Limits::default())
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("old.wasm")
            && text.contains("built against bindery:plugin@0.1.0")
            && text.contains(bindery::plugin::WIT_PACKAGE)
            && text.contains("rebuild it against the wit/ of this release"),
        "{text}"
    );
}

#[test]
fn the_host_implements_the_package_of_wit() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for file in ["types.wit", "routing.wit", "worlds.wit"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("wit file");
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("package {};", bindery::plugin::WIT_PACKAGE),
            "{file}"
        );
    }
}

const CATALOG: &str = r#"
endpoints:
  - url: http://a.one
    upstreams: [{address: 10.0.0.1:80}]
  - url: http://b.two
    labels: {hostile: "yes"}
    upstreams: [{address: 10.0.0.2:80}]
  - url: tcp://c.three:5432
    upstreams: [{address: 10.0.0.3:5432}]
"#;

fn plan_with(policy_yaml: &str, files: &[(&str, &[u8])]) -> pipeline::Outcome {
    plan_after(policy_yaml, files, &Allocation::new())
}

fn plan_after(
    policy_yaml: &str,
    files: &[(&str, &[u8])],
    previous: &Allocation,
) -> pipeline::Outcome {
    let mut all: Vec<(&str, &[u8])> = vec![("policy.yaml", policy_yaml.as_bytes())];
    all.extend_from_slice(files);
    let dir = dir_with(&all);
    let loaded = policy::load(Some(dir.path())).expect("policy loads");
    let generation = match Generation::load(&runtime(), &loaded) {
        Ok(g) => g,
        Err(e) => panic!("generation: {e:?}"),
    };
    let entries = parse_str(CATALOG, "test.yaml").unwrap();
    pipeline::run(
        entries,
        &loaded.policy,
        &generation,
        "bindery-system",
        previous,
    )
}

#[test]
fn a_looping_selector_loses_only_the_endpoint_it_loops_on() {
    let outcome = plan_with(
        "selectors: [{plugin: sel.wasm, config: {mode: loop}, limits: {timeoutMs: 30}}]\n",
        &[("sel.wasm", &guest("hostile_selector"))],
    );
    let urls: Vec<String> = outcome
        .projections
        .iter()
        .map(|p| p.key.url.to_string())
        .collect();
    assert_eq!(urls, vec!["http://a.one:80", "tcp://c.three:5432"]);
    assert_eq!(outcome.rejections.len(), 1);
    let r = &outcome.rejections[0];
    assert_eq!(r.kind, RejectKind::SelectorFailed);
    assert!(r.message.contains("deadline of 30 ms"), "{r}");
}

#[test]
fn a_trapping_selector_loses_only_the_endpoint_it_traps_on() {
    let outcome = plan_with(
        "selectors: [{plugin: sel.wasm, config: {mode: trap}}]\n",
        &[("sel.wasm", &guest("hostile_selector"))],
    );
    assert_eq!(outcome.projections.len(), 2);
    assert_eq!(outcome.rejections[0].kind, RejectKind::SelectorFailed);
    assert!(
        outcome.rejections[0].message.contains("trapped"),
        "{}",
        outcome.rejections[0]
    );
}

#[test]
fn a_failing_selector_keeps_the_last_good_decision() {
    // b.two was projected on port 20123 by the previous generation.
    let previous = Allocation::from([("default/http://b.two:80".to_string(), 20123)]);
    let outcome = plan_after(
        "selectors: [{plugin: sel.wasm, config: {mode: trap}}]\n",
        &[("sel.wasm", &guest("hostile_selector"))],
        &previous,
    );
    let kept = outcome
        .projections
        .iter()
        .find(|p| p.key.url.to_string() == "http://b.two:80")
        .expect("b.two stays projected");
    assert_eq!(kept.port(), Some(20123), "and keeps its port");
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
}

#[test]
fn invalid_names_are_rejected_before_use() {
    for (mode, needle) in [
        ("invalid", "\"Bad_Name!\""),
        ("long", "not an RFC 1035 label"),
    ] {
        let policy = format!("naming: {{plugin: naming.wasm, config: {{mode: {mode}}}}}\n");
        let outcome = plan_with(&policy, &[("naming.wasm", &guest("hostile_naming"))]);
        assert!(outcome.projections.is_empty(), "{mode}");
        assert_eq!(outcome.rejections.len(), 3, "{mode}");
        for r in &outcome.rejections {
            assert_eq!(r.kind, RejectKind::InvalidName, "{r}");
            assert!(r.message.contains(needle), "{mode}: {r}");
            assert!(r.message.contains("naming.wasm"), "names the plugin: {r}");
        }
    }
}

#[test]
fn colliding_names_keep_the_first_projection_only() {
    let outcome = plan_with(
        "naming: {plugin: naming.wasm, config: {mode: collide}}\n",
        &[("naming.wasm", &guest("hostile_naming"))],
    );
    assert_eq!(outcome.projections.len(), 1);
    assert_eq!(
        outcome.projections[0].key.url.to_string(),
        "http://a.one:80"
    );
    assert_eq!(outcome.rejections.len(), 2);
    for r in &outcome.rejections {
        assert_eq!(r.kind, RejectKind::NameCollision, "{r}");
        assert!(
            r.message
                .contains("same-for-all already fronts target one/a"),
            "{r}"
        );
    }
}

#[test]
fn a_failing_naming_plugin_is_reported_per_endpoint() {
    for (mode, needle) in [("trap", "trapped"), ("error", "no name for")] {
        let policy = format!("naming: {{plugin: naming.wasm, config: {{mode: {mode}}}}}\n");
        let outcome = plan_with(&policy, &[("naming.wasm", &guest("hostile_naming"))]);
        assert!(outcome.projections.is_empty());
        assert_eq!(outcome.rejections.len(), 3);
        assert!(
            outcome
                .rejections
                .iter()
                .all(|r| r.kind == RejectKind::NamingFailed && r.message.contains(needle))
        );
    }
}

#[test]
fn plugin_check_names_the_world_of_each_guest() {
    for (name, world) in [
        ("hostile_router", "router"),
        ("hostile_naming", "naming"),
        ("hostile_selector", "selector"),
    ] {
        let out = support::bindery()
            .args(["plugin", "check"])
            .arg(support::guest_path(name))
            .args(["--config", r#"{"mode":"ok"}"#])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("world {world}")), "{stdout}");
        assert!(stdout.contains("configure: ok"), "{stdout}");
        assert!(out.status.success());
    }
    let out = support::bindery()
        .args(["plugin", "check"])
        .arg(support::guest_path("hostile_router"))
        .args(["--config", r#"{"mode":"configure-error"}"#])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("configure: failed"));
}
