use std::sync::Arc;

use super::*;

#[test]
fn slots_up_to_the_limit_and_a_dropped_slot_frees_its_place() {
    let limit = Arc::new(Limit::new(2));
    let a = limit.try_acquire().expect("first slot");
    let _b = limit.try_acquire().expect("second slot");
    assert!(limit.try_acquire().is_none(), "a third is over the limit");
    drop(a);
    assert!(
        limit.try_acquire().is_some(),
        "the freed place is taken again"
    );
}

#[test]
fn lowering_the_limit_keeps_what_is_served_and_refuses_until_under_it() {
    let limit = Arc::new(Limit::new(3));
    let mut slots: Vec<Slot> = (0..3).filter_map(|_| limit.try_acquire()).collect();
    assert_eq!(slots.len(), 3);
    limit.set_max(1);
    assert!(limit.try_acquire().is_none());
    slots.truncate(1);
    assert!(limit.try_acquire().is_none(), "one served, limit one");
    slots.clear();
    assert!(limit.try_acquire().is_some());
}

#[test]
fn a_limit_of_zero_serves_one() {
    let limit = Arc::new(Limit::new(0));
    let _one = limit.try_acquire().expect("zero is read as one");
    assert!(limit.try_acquire().is_none());
    limit.set_max(0);
    assert!(limit.try_acquire().is_none());
}
