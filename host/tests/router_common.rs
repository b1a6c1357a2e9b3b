//! The candidate orderings the built-in routers share
//! (`plugins/router-common`), run natively: the plugins workspace builds only
//! for wasm32-wasip2, where nothing runs tests. The host's own fallback uses
//! the same functions.
use router_common::{View, fnv1a, rotated, rotated_by, sorted_by_key};

fn v(healthy: bool, weight: u32, active: u32) -> View {
    View {
        healthy,
        weight,
        active,
    }
}

/// The ordering spelled out: each group in index order, rotated left by
/// `start` within the group.
fn reference(health: &[bool], start: usize) -> Vec<u32> {
    let group = |want: bool| -> Vec<u32> {
        let mut g: Vec<u32> = (0..health.len() as u32)
            .filter(|&i| health[i as usize] == want)
            .collect();
        if !g.is_empty() {
            let shift = start % g.len();
            g.rotate_left(shift);
        }
        g
    };
    let mut out = group(true);
    out.extend(group(false));
    out
}

#[test]
fn rotation_matches_the_reference_for_every_health_pattern() {
    for n in 0..=8usize {
        for mask in 0..(1u32 << n) {
            let health: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
            for start in [0, 1, 2, 3, 5, 7, 8, 13, usize::MAX] {
                assert_eq!(
                    rotated_by(n, start, |i| health[i]),
                    reference(&health, start),
                    "n={n} health={health:?} start={start}"
                );
            }
        }
    }
}

#[test]
fn rotation_puts_unhealthy_last() {
    let views = [v(true, 1, 0), v(false, 1, 0), v(true, 1, 0)];
    assert_eq!(rotated(&views, 1), vec![2, 0, 1]);
    assert_eq!(rotated(&views, 0), vec![0, 2, 1]);
    assert_eq!(rotated(&views, 2), vec![0, 2, 1]);
    assert!(rotated(&[], 3).is_empty());
}

#[test]
fn sort_breaks_ties_by_rotation() {
    let views = [v(true, 1, 5), v(true, 1, 2), v(true, 1, 2), v(false, 1, 0)];
    assert_eq!(
        sorted_by_key(&views, 2, |i| views[i].active),
        vec![2, 1, 0, 3]
    );
}

#[test]
fn hash_separates_parts() {
    assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
    assert_eq!(fnv1a(&[b"10.0.0.1"]), fnv1a(&[b"10.0.0.1"]));
}
