use super::allocate;
use crate::pipeline::types::Allocation;
use crate::policy::PortRange;

fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("default/http://s{i}.ns:80"))
        .collect()
}

#[test]
fn allocation_is_independent_of_order_and_collision_free() {
    let range = PortRange {
        first: 20000,
        last: 20099,
    };
    let mut forward = ids(100);
    let (a, left) = allocate(&forward, range, &Allocation::new());
    assert!(left.is_empty());
    forward.reverse();
    let (b, _) = allocate(&forward, range, &Allocation::new());
    assert_eq!(a, b);
    let mut ports: Vec<u16> = a.values().copied().collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 100, "every port distinct");
    assert!(ports.iter().all(|p| (20000..=20099).contains(p)));
}

#[test]
fn previous_ports_are_kept() {
    let range = PortRange {
        first: 20000,
        last: 29999,
    };
    let all = ids(50);
    let (first, _) = allocate(&all[..40], range, &Allocation::new());
    let (second, _) = allocate(&all, range, &first);
    for (id, port) in &first {
        assert_eq!(second[id], *port, "{id} moved");
    }
    // A removed URL frees its port; the others stay.
    let (third, _) = allocate(&all[1..], range, &second);
    assert!(!third.contains_key(&all[0]));
    for id in &all[1..] {
        assert_eq!(third[id], second[id]);
    }
}

#[test]
fn a_full_range_leaves_the_rest_unallocated() {
    let range = PortRange {
        first: 20000,
        last: 20009,
    };
    let (a, left) = allocate(&ids(12), range, &Allocation::new());
    assert_eq!(a.len(), 10);
    assert_eq!(left.len(), 2);
}

#[test]
fn previous_ports_outside_the_range_are_reallocated() {
    let range = PortRange {
        first: 20000,
        last: 20009,
    };
    let prev = Allocation::from([(ids(1)[0].clone(), 31000)]);
    let (a, _) = allocate(&ids(1), range, &prev);
    assert!((20000..=20009).contains(&a[&ids(1)[0]]));
}
