//! Candidate ordering shared by the built-in routers.
//!
//! Every router returns *all* candidates, healthy ones first in the order the
//! algorithm prefers, then the unhealthy ones as a last resort: the forwarder
//! walks the list until a connection succeeds, so a pool with every member
//! ejected still gets a chance to recover.

/// What the algorithms need to know about one candidate.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub healthy: bool,
    pub weight: u32,
    pub active: u32,
}

/// Healthy indices rotated by `start`, then the unhealthy ones rotated the
/// same way. Each group turns on its own, so an unhealthy member never hands
/// its turn to the healthy one after it.
pub fn rotated(views: &[View], start: usize) -> Vec<u32> {
    rotated_by(views.len(), start, |i| views[i].healthy)
}

/// [`rotated`] for `n` candidates whose health `healthy(i)` tells; one
/// allocation, the result.
pub fn rotated_by(n: usize, start: usize, healthy: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(n);
    out.extend((0..n as u32).filter(|&i| healthy(i as usize)));
    let h = out.len();
    out.extend((0..n as u32).filter(|&i| !healthy(i as usize)));
    if let Some(shift) = start.checked_rem(h) {
        out[..h].rotate_left(shift);
    }
    if let Some(shift) = start.checked_rem(n - h) {
        out[h..].rotate_left(shift);
    }
    out
}

/// Indices sorted by `key` ascending within the healthy group, then within the
/// unhealthy group; ties keep the order of `rotated(views, start)`.
pub fn sorted_by_key<K: Ord>(views: &[View], start: usize, key: impl Fn(usize) -> K) -> Vec<u32> {
    let mut order = rotated(views, start);
    // Stable sort: the rotation breaks ties, so equal candidates share load.
    order.sort_by_key(|&i| (!views[i as usize].healthy, key(i as usize)));
    order
}

/// 64-bit FNV-1a: small, deterministic across hosts and releases.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator so ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Final avalanche (splitmix64) so nearby keys spread.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(healthy: bool, weight: u32, active: u32) -> View {
        View {
            healthy,
            weight,
            active,
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
}
