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
/// allocation, the result. Each index is written straight to its rotated
/// place, which for the pools of a few upstreams that are the rule is
/// cheaper than collecting and rotating.
pub fn rotated_by(n: usize, start: usize, healthy: impl Fn(usize) -> bool) -> Vec<u32> {
    let h = (0..n).filter(|&i| healthy(i)).count();
    let mut out = vec![0u32; n];
    // The group member of rank `r` goes to `(r - start) mod len`, which is
    // `rotate_left(start % len)` of the group in rank order.
    let mut healthy_at = Place::new(0, h, start);
    let mut unhealthy_at = Place::new(h, n - h, start);
    for i in 0..n {
        let at = if healthy(i) {
            healthy_at.next()
        } else {
            unhealthy_at.next()
        };
        out[at] = i as u32;
    }
    out
}

/// Where the next member of a group of `len` places from `base` goes, the
/// group being rotated left by `start`.
struct Place {
    base: usize,
    len: usize,
    pos: usize,
}

impl Place {
    fn new(base: usize, len: usize, start: usize) -> Place {
        let pos = start.checked_rem(len).map_or(0, |shift| len - shift);
        Place { base, len, pos }
    }

    fn next(&mut self) -> usize {
        if self.pos >= self.len {
            self.pos -= self.len;
        }
        let at = self.base + self.pos;
        self.pos += 1;
        at
    }
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
