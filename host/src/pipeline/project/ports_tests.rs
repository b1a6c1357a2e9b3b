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

#[test]
fn a_port_of_a_url_no_longer_asked_for_is_not_handed_to_another() {
    // A range of two: `gone` held 20000 and its Service may still target
    // it, so `new`, whose hash may point there, gets the other port.
    let range = PortRange {
        first: 20000,
        last: 20001,
    };
    for n in 0..20 {
        let gone = format!("default/tcp://gone{n}.ns:80");
        let new = format!("default/tcp://new{n}.ns:80");
        let previous = Allocation::from([(gone.clone(), 20000)]);
        let (a, left) = allocate(std::slice::from_ref(&new), range, &previous);
        assert!(left.is_empty());
        assert_eq!(
            a[&new], 20001,
            "{new} took the port {gone}'s Service targets"
        );
        assert!(!a.contains_key(&gone));
    }
    // With the range full of such ports, a new URL waits for a port.
    let previous = Allocation::from([
        ("default/tcp://a.ns:80".to_string(), 20000),
        ("default/tcp://b.ns:80".to_string(), 20001),
    ]);
    let (a, left) = allocate(&["default/tcp://c.ns:80".to_string()], range, &previous);
    assert!(a.is_empty());
    assert_eq!(left, ["default/tcp://c.ns:80"]);
}
