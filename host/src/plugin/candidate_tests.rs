//! A component that hands the candidate list straight back: what the host
//! wrote into guest memory must lift, through the generated record, to the
//! same values.
use super::Generated;
use super::*;
use crate::plugin::wat_component::instantiate;

const ECHO: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "echo") (param i32 i32) (result i32)
      (i32.store (i32.const 16) (local.get 0))
      (i32.store (i32.const 20) (local.get 1))
      (i32.const 16))
    (func (export "count") (param i32 i32) (result i32) (local.get 1))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $next))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (local.get $p)))
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $memory))
  (alias core export $i "realloc" (core func $realloc))
  (type $candidate' (record (field "key" u64) (field "weight" u32) (field "healthy" bool) (field "active" u32)))
  (export $candidate "candidate" (type $candidate'))
  (func (export "echo") (param "c" (list $candidate)) (result (list $candidate))
    (canon lift (core func $i "echo") (memory $memory) (realloc $realloc)))
  (func (export "count") (param "c" (list $candidate)) (result u32)
    (canon lift (core func $i "count") (memory $memory) (realloc $realloc))))
"#;

#[test]
fn a_lowered_list_lifts_back_to_the_same_candidates() {
    let (mut store, instance) = instantiate(ECHO);
    let echo = instance
        .get_typed_func::<(&[Candidate],), (Vec<Generated>,)>(&mut store, "echo")
        .expect("the host type checks as list<candidate>");
    let sent = [
        Candidate {
            key: u64::MAX - 1,
            weight: 10_000,
            healthy: true,
            active: u32::MAX,
        },
        Candidate {
            key: 0x0102_0304_0506_0708,
            weight: 1,
            healthy: false,
            active: 0,
        },
        Candidate {
            key: 0,
            weight: 0,
            healthy: true,
            active: 7,
        },
    ];
    let (back,) = echo.call(&mut store, (&sent[..],)).expect("call");
    let back: Vec<Candidate> = back
        .into_iter()
        .map(|g| Candidate {
            key: g.key,
            weight: g.weight,
            healthy: g.healthy,
            active: g.active,
        })
        .collect();
    assert_eq!(back, sent);
    let count = instance
        .get_typed_func::<(&[Candidate],), (u32,)>(&mut store, "count")
        .expect("count type checks");
    assert_eq!(count.call(&mut store, (&sent[..],)).expect("call").0, 3);
}

#[test]
fn a_mismatched_record_fails_the_type_check() {
    let text = ECHO.replace(r#"(field "active" u32)"#, r#"(field "active" u64)"#);
    let (mut store, instance) = instantiate(&text);
    let typed = instance.get_typed_func::<(&[Candidate],), (u32,)>(&mut store, "count");
    assert!(
        typed.is_err(),
        "a record of other field types must not type-check"
    );
}
