//! Forwarder port allocation. A URL keeps the port it had; a new URL gets
//! the first free port probing from a hash of its identity, so the result
//! does not depend on the order URLs arrive in and two replicas computing it
//! from the same inputs agree. A port `previous` gives a URL that is no
//! longer asked for stays taken for this pass: its Service may still target
//! it (until it is deleted, or while the reconciler holds a deletion), so
//! a new URL there would receive the other's connections.
use std::collections::BTreeSet;

use crate::pipeline::types::Allocation;
use crate::policy::PortRange;

/// Allocate ports for `ids` in `range`, keeping `previous` where still in
/// range and free. Returns the allocation and the ids left without a port.
pub fn allocate(
    ids: &[String],
    range: PortRange,
    previous: &Allocation,
) -> (Allocation, Vec<String>) {
    let size = u32::from(range.last) - u32::from(range.first) + 1;
    let mut taken: BTreeSet<u16> = BTreeSet::new();
    let mut out = Allocation::new();
    let mut wanted: Vec<&String> = Vec::new();
    let in_range = |p: u16| (range.first..=range.last).contains(&p);
    let asked: BTreeSet<&String> = ids.iter().collect();
    let mut reserved: BTreeSet<u16> = previous
        .iter()
        .filter(|(id, p)| !asked.contains(id) && in_range(**p))
        .map(|(_, p)| *p)
        .collect();
    for id in ids {
        match previous.get(id) {
            Some(&p) if in_range(p) && taken.insert(p) => {
                out.insert(id.clone(), p);
            }
            _ => wanted.push(id),
        }
    }
    taken.append(&mut reserved);
    wanted.sort();
    wanted.dedup();
    let mut exhausted = Vec::new();
    for id in wanted {
        if taken.len() as u32 >= size {
            exhausted.push(id.clone());
            continue;
        }
        let start = (router_common::fnv1a(&[id.as_bytes()]) % u64::from(size)) as u32;
        let port = (0..size)
            .map(|k| (u32::from(range.first) + (start + k) % size) as u16)
            .find(|p| !taken.contains(p));
        if let Some(p) = port {
            taken.insert(p);
            out.insert(id.clone(), p);
        }
    }
    (out, exhausted)
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
