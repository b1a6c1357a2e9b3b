//! What wasmtime charges for the shapes a component call can take, with
//! guest bodies that do nothing: the floor under every plugin call. The
//! engine is configured like the plugin runtime's (component model,
//! concurrency support off, epoch interruption, pooling allocator).
//!
//! `cargo bench --bench call_floor`; figures go in BENCHMARKS.md.
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmtime::component::{Component, ComponentType, Lift, Linker, TypedFunc};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

/// One core module behind every export: `u32` in and out, a bump `realloc`,
/// answers written to a static return area, an empty post-return.
const COMPONENT: &str = r#"
(component
  (import "get" (func $get (param "i" u32) (result u32)))
  (core func $get-lowered (canon lower (func $get)))
  (core instance $host (export "get" (func $get-lowered)))
  (core module $m
    (import "host" "get" (func $get (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "flat") (param i32) (result i32) local.get 0)
    (func (export "list") (param i32 i32) (result i32) local.get 1)
    (func (export "try-one") (param i32) (result i32)
      (i32.store (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 0))
      (i32.store (i32.const 24) (i32.const 1))
      (i32.const 16))
    (func (export "pick") (param i32) (result i32)
      (i32.store (i32.const 32) (i32.const 0))
      (i32.store (i32.const 36) (i32.const 0))
      (i32.const 32))
    (func (export "imports4") (param i32) (result i32)
      (call $get (i32.const 0)) (call $get (i32.const 1)) i32.add
      (call $get (i32.const 2)) i32.add (call $get (i32.const 3)) i32.add)
    (func (export "post") (param i32))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
  (core instance $i (instantiate $m (with "host" (instance $host))))
  (alias core export $i "memory" (core memory $memory))
  (alias core export $i "realloc" (core func $realloc))
  (type $decision' (variant (case "try" (list u32)) (case "reject" string)))
  (export $decision "decision" (type $decision'))
  (type $pick' (variant (case "pick" u32) (case "reject" u32)))
  (export $pick "choice" (type $pick'))
  (type $candidate' (record (field "key" u64) (field "weight" u32) (field "healthy" bool) (field "active" u32)))
  (export $candidate "candidate" (type $candidate'))
  (func (export "flat") (param "x" u32) (result u32)
    (canon lift (core func $i "flat")))
  (func (export "list") (param "x" (list $candidate)) (result u32)
    (canon lift (core func $i "list") (memory $memory) (realloc $realloc)))
  (func (export "try-one") (param "x" u32) (result $decision)
    (canon lift (core func $i "try-one") (memory $memory) (realloc $realloc)
      (post-return (core func $i "post"))))
  (func (export "pick") (param "x" u32) (result $pick)
    (canon lift (core func $i "pick") (memory $memory)))
  (func (export "imports4") (param "x" u32) (result u32)
    (canon lift (core func $i "imports4"))))
"#;

#[derive(ComponentType, Lift)]
#[component(variant)]
#[expect(dead_code, reason = "lifted to be paid for, never read")]
enum Decision {
    #[component(name = "try")]
    Try(Vec<u32>),
    #[component(name = "reject")]
    Reject(String),
}

#[derive(ComponentType, Lift)]
#[component(variant)]
#[expect(dead_code, reason = "lifted to be paid for, never read")]
enum Pick {
    #[component(name = "pick")]
    Pick(u32),
    #[component(name = "reject")]
    Reject(u32),
}

#[derive(ComponentType, wasmtime::component::Lower, Clone, Copy)]
#[component(record)]
struct Candidate {
    key: u64,
    weight: u32,
    healthy: bool,
    active: u32,
}

fn engine() -> Engine {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(4)
        .total_core_instances(8)
        .total_memories(4)
        .total_tables(8);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("engine")
}

fn call_floor(c: &mut Criterion) {
    let engine = engine();
    let bytes = wat::parse_str(COMPONENT).expect("component text");
    let component = Component::new(&engine, &bytes).expect("component compiles");
    let mut linker: Linker<()> = Linker::new(&engine);
    linker
        .root()
        .func_wrap("get", |_, (i,): (u32,)| Ok((i,)))
        .expect("import");
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = linker
        .instantiate(&mut store, &component)
        .expect("instantiates");
    let flat: TypedFunc<(u32,), (u32,)> =
        instance.get_typed_func(&mut store, "flat").expect("flat");
    let list: TypedFunc<(&[Candidate],), (u32,)> =
        instance.get_typed_func(&mut store, "list").expect("list");
    let try_one: TypedFunc<(u32,), (Decision,)> = instance
        .get_typed_func(&mut store, "try-one")
        .expect("try-one");
    let pick: TypedFunc<(u32,), (Pick,)> =
        instance.get_typed_func(&mut store, "pick").expect("pick");
    let imports4: TypedFunc<(u32,), (u32,)> = instance
        .get_typed_func(&mut store, "imports4")
        .expect("imports4");
    let candidates = [Candidate {
        key: 7,
        weight: 1,
        healthy: true,
        active: 0,
    }; 4];

    let mut group = c.benchmark_group("call_floor");
    group.bench_function("u32_to_u32", |b| {
        b.iter(|| flat.call(&mut store, (black_box(1),)).expect("call"))
    });
    group.bench_function("list_of_4_candidates_in", |b| {
        b.iter(|| {
            list.call(&mut store, (black_box(&candidates[..]),))
                .expect("call")
        })
    });
    group.bench_function("variant_with_list_out", |b| {
        b.iter(|| try_one.call(&mut store, (black_box(1),)).expect("call"))
    });
    group.bench_function("variant_without_list_out", |b| {
        b.iter(|| pick.call(&mut store, (black_box(1),)).expect("call"))
    });
    group.bench_function("four_host_imports_called", |b| {
        b.iter(|| imports4.call(&mut store, (black_box(1),)).expect("call"))
    });
    group.finish();
}

criterion_group!(benches, call_floor);
criterion_main!(benches);
