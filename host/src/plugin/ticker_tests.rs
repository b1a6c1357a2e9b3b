use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, Instance, Module, Store, Trap};

use super::{TICK, Ticker};

fn engine() -> Engine {
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).expect("an engine with epoch interruption")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn parks_after_the_longest_deadline_without_a_call_and_a_call_wakes_it() {
    let ticker = Ticker::start(engine());
    ticker.cover(4);
    let parked = || ticker.shared.parked.load(Ordering::SeqCst);
    // Not before the longest deadline has passed without a call.
    let start = Instant::now();
    wait_until("the ticker parks", parked);
    assert!(
        start.elapsed() >= TICK * 4,
        "parked after {:?}",
        start.elapsed()
    );
    ticker.calling();
    assert!(!parked(), "a call wakes the ticker");
    wait_until("the ticker parks again", parked);
}

#[test]
fn a_call_made_while_parked_is_still_stopped_at_its_deadline() {
    let engine = engine();
    let ticker = Ticker::start(engine.clone());
    ticker.cover(3);
    wait_until("the ticker parks", || {
        ticker.shared.parked.load(Ordering::SeqCst)
    });
    let wasm = wat::parse_str(r#"(module (func (export "spin") (loop br 0)))"#)
        .expect("the module text parses");
    let module = Module::new(&engine, wasm).expect("the module compiles");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
    let spin = instance
        .get_typed_func::<(), ()>(&mut store, "spin")
        .expect("exports spin");
    // On a thread of its own: without the ticker the call never returns.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        ticker.calling();
        store.set_epoch_deadline(3);
        let r = spin.call(&mut store, ());
        let _ = tx.send(r.map_err(|e| e.downcast_ref::<Trap>().copied()));
        drop(ticker);
    });
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the call is stopped at its deadline");
    assert_eq!(r, Err(Some(Trap::Interrupt)));
}
