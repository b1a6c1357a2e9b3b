//! A component whose `answer` returns a prepared decision: `try` with three
//! indices, `reject` with a reason, and `try` lists that point outside guest
//! memory or are misaligned.
use super::*;
use crate::plugin::wat_component::instantiate;

const ANSWERS: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    ;; try [2, 0, 1]
    (data (i32.const 0) "\00\00\00\00\40\00\00\00\03\00\00\00")
    (data (i32.const 64) "\02\00\00\00\00\00\00\00\01\00\00\00")
    ;; reject "busy"
    (data (i32.const 16) "\01\00\00\00\60\00\00\00\04\00\00\00")
    (data (i32.const 96) "busy")
    ;; try, 2 indices at the end of the 64 KiB page: out of bounds
    (data (i32.const 32) "\00\00\00\00\fc\ff\00\00\02\00\00\00")
    ;; try, misaligned list
    (data (i32.const 48) "\00\00\00\00\41\00\00\00\01\00\00\00")
    (func (export "answer") (param i32) (result i32)
      (i32.mul (local.get 0) (i32.const 16)))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $memory))
  (alias core export $i "realloc" (core func $realloc))
  (type $decision' (variant (case "try" (list u32)) (case "reject" string)))
  (export $decision "decision" (type $decision'))
  (func (export "answer") (param "which" u32) (result $decision)
    (canon lift (core func $i "answer") (memory $memory) (realloc $realloc))))
"#;

#[test]
fn decisions_lift_from_guest_memory() {
    let (mut store, instance) = instantiate(ANSWERS);
    let answer = instance
        .get_typed_func::<(u32,), (Decision,)>(&mut store, "answer")
        .expect("the host type checks as decision");
    let mut ask = |which: u32| answer.call(&mut store, (which,)).map(|(d,)| d);
    assert_eq!(ask(0).expect("try"), Decision::Try(vec![2, 0, 1]));
    assert_eq!(ask(1).expect("reject"), Decision::Reject("busy".into()));
    let out = ask(2).expect_err("out of bounds").to_string();
    assert!(out.contains("out of bounds"), "{out}");
    let misaligned = ask(3).expect_err("misaligned").to_string();
    assert!(misaligned.contains("aligned"), "{misaligned}");
}
