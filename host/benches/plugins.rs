//! Plugin costs on the hot paths: one router call per connection, one CEL
//! select per endpoint, selection of a 10,000-endpoint catalog.
//!
//! `cargo bench --bench plugins`; figures go in BENCHMARKS.md.
use std::fmt::Write;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bindery::catalog;
use bindery::metrics::PluginMetrics;
use bindery::plugin::Candidate;
use bindery::plugin::bindings::{Endpoint, Scheme};
use bindery::plugin::router::RouterWorld;
use bindery::plugin::selector::SelectorWorld;
use bindery::plugin::{
    Decision, RouteInput, RouteTarget, Runtime, RuntimeOptions, SelectorPlugin, UpstreamView,
};
use bindery::policy::PluginRef;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// The allocator of the `bindery` binary (`host/src/main.rs`), so the host's
/// side of each call allocates as it does in production.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions::from_env(), PluginMetrics::default()).expect("runtime")
}

fn cel(rt: &Runtime, expressions: &[&str]) -> Arc<SelectorPlugin> {
    let mut r = PluginRef::builtin("cel");
    r.config = serde_json::json!({ "expressions": expressions });
    rt.load::<SelectorWorld>(&r, Path::new("."))
        .expect("cel loads")
}

/// Every built-in router over a pool of 4, and round-robin over a pool of 1
/// (an endpoint with a single upstream, where the list in and out is
/// shortest).
fn router_call(c: &mut Criterion) {
    let rt = runtime();
    let client: SocketAddr = ([10, 1, 2, 3], 40000).into();
    let mut group = c.benchmark_group("router_call");
    for (name, n) in [
        ("round-robin", 4),
        ("least-connections", 4),
        ("weighted", 4),
        ("consistent-hash", 4),
        ("round-robin", 1),
    ] {
        let target = Arc::new(RouteTarget::new(
            "http://rgw.storage:7480".into(),
            Scheme::Http,
            (0..n)
                .map(|i| UpstreamView::new(format!("10.0.0.{i}:7480"), 1, vec![]))
                .collect(),
        ));
        let candidates: Vec<Candidate> = target
            .upstreams
            .iter()
            .zip(0..)
            .map(|(u, i)| Candidate {
                key: u.key,
                weight: 1,
                healthy: true,
                active: i,
            })
            .collect();
        let router = rt
            .load::<RouterWorld>(&PluginRef::builtin(name), Path::new("."))
            .expect("router loads");
        let mut input = Some(RouteInput {
            target,
            client,
            head: None,
        });
        let label = if n == 1 {
            "1_candidate"
        } else {
            "4_candidates"
        };
        group.bench_function(format!("{name}/{label}"), |b| {
            b.iter(|| {
                let lent = input.take().expect("input is handed back");
                let (routed, back) = router.route(lent, black_box(&candidates));
                input = Some(back);
                assert!(matches!(routed.decision, Decision::Try(_)));
                routed
            })
        });
    }
    group.finish();
}

fn endpoint() -> Endpoint {
    Endpoint {
        url: "http://rgw.storage:7480".into(),
        scheme: Scheme::Http,
        name: "rgw".into(),
        namespace: "storage".into(),
        port: 7480,
        account: "default".into(),
        labels: vec![
            ("team".into(), "storage".into()),
            ("rack".into(), "b".into()),
        ],
        metadata: vec![("owner".into(), "ceph".into())],
        upstreams: vec![],
    }
}

fn cel_select(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("cel_select");
    let one = cel(&rt, &["endpoint.labels.team == 'storage'"]);
    let e = endpoint();
    group.bench_function("one_expression", |b| {
        b.iter(|| one.select(black_box(&e)).expect("selects"))
    });
    let two = cel(
        &rt,
        &[
            "endpoint.labels.team == 'billing' && endpoint.scheme == 'tcp'",
            "endpoint.namespace.startsWith('stor') && endpoint.port == 7480",
        ],
    );
    group.bench_function("two_expressions_second_true", |b| {
        b.iter(|| two.select(black_box(&e)).expect("selects"))
    });
    group.finish();
}

/// A catalog of `n` endpoints, a tenth of them labelled team=storage.
fn catalog_text(n: usize) -> String {
    let mut s = String::from("endpoints:\n");
    for i in 0..n {
        let team = if i % 10 == 0 { "storage" } else { "other" };
        let _ = write!(
            s,
            "  - url: http://svc-{i}.ns-{}:8080\n    labels: {{team: {team}}}\n    upstreams: [{{address: 10.{}.{}.1:8080}}]\n",
            i % 50,
            i / 250,
            i % 250,
        );
    }
    s
}

fn select_10k(c: &mut Criterion) {
    let rt = runtime();
    let selector = cel(&rt, &["endpoint.labels.team == 'storage'"]);
    let entries = catalog::parse_str(&catalog_text(10_000), "bench").expect("catalog parses");
    let selectors = [selector];
    let mut group = c.benchmark_group("selection");
    group.sample_size(20);
    group.bench_function("10000_endpoints", |b| {
        b.iter_batched(
            || entries.clone(),
            |entries| {
                use bindery::pipeline::{account, select, validate};
                let (valid, invalid) = validate::validate(entries, bindery::catalog::Mode::Proxy);
                let (ours, others) = account::filter(valid, "default");
                let (selected, rejected) = select::select(ours, &selectors, &Default::default());
                let rejected = invalid.len() + others.len() + rejected.len();
                assert_eq!((selected.len(), rejected), (1000, 9000));
                selected
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, router_call, cel_select, select_10k);
criterion_main!(benches);
