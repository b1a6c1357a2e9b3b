//! The `candidate` record of `wit/routing.wit` as the host builds and lowers
//! it. It is the one argument of `route` whose size grows with the pool, and
//! it is lowered on every connection and every request.
//!
//! wasmtime's generated record stores a list element field by field, looking
//! the guest memory up again for each of the four fields. This type writes the
//! whole list into one view of guest memory instead, 24 bytes per candidate
//! in the canonical ABI layout. The type check and a lone candidate go
//! through the generated record, so the WIT definition stays the only source
//! of truth and a change to it fails the type check at instantiation.
use std::mem::MaybeUninit;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower};

use super::bindings::router::bindery::plugin::routing::Candidate as Generated;

/// The live state of one upstream, as `route` receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub key: u64,
    pub weight: u32,
    pub healthy: bool,
    pub active: u32,
}

/// Canonical ABI layout of the record: `key` u64 at 0, `weight` u32 at 8,
/// `healthy` as one byte at 12, `active` u32 at 16, padded to 8.
const SIZE: usize = 24;
const _: () = assert!(Generated::ABI.size32 as usize == SIZE && Generated::ABI.align32 == 8);

impl Candidate {
    fn generated(&self) -> Generated {
        Generated {
            key: self.key,
            weight: self.weight,
            healthy: self.healthy,
            active: self.active,
        }
    }

    fn encode(&self) -> [u8; SIZE] {
        let mut b = [0u8; SIZE];
        b[0..8].copy_from_slice(&self.key.to_le_bytes());
        b[8..12].copy_from_slice(&self.weight.to_le_bytes());
        b[12] = u8::from(self.healthy);
        b[16..20].copy_from_slice(&self.active.to_le_bytes());
        b
    }
}

// SAFETY: the ABI, the flat representation and the type check are the
// generated record's, which wasmtime derives from the WIT definition.
unsafe impl ComponentType for Candidate {
    type Lower = <Generated as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = Generated::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        Generated::typecheck(ty, types)
    }
}

// SAFETY: a lone candidate is lowered by the generated record; a list is
// written at the offset wasmtime allocated for it, within the bounds of guest
// memory (checked), in the layout asserted above.
unsafe impl Lower for Candidate {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        dst: &mut MaybeUninit<Self::Lower>,
    ) -> wasmtime::Result<()> {
        self.generated().linear_lower_to_flat(cx, ty, dst)
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        self.generated().linear_lower_to_memory(cx, ty, offset)
    }

    fn linear_store_list_to_memory<T>(
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        offset: usize,
        items: &[Self],
    ) -> wasmtime::Result<()> {
        let len = items.len() * SIZE;
        let dst = cx
            .as_slice_mut()
            .get_mut(offset..)
            .and_then(|m| m.get_mut(..len))
            .ok_or_else(|| wasmtime::format_err!("candidate list out of bounds of guest memory"))?;
        for (slot, c) in dst.chunks_exact_mut(SIZE).zip(items) {
            slot.copy_from_slice(&c.encode());
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "candidate_tests.rs"]
mod tests;
