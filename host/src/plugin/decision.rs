//! The `decision` variant of `wit/routing.wit` as the host lifts it: the
//! answer of every routing call, which the host checks before acting on it
//! ([`super::Routed`]).
//!
//! The generated variant lifts the candidate indices as a generic list of
//! `u32`, element by element. This type reads the indices of `try` straight
//! from one view of guest memory, in the canonical ABI layout (discriminant
//! byte, then the list's pointer and length as two `u32`). The type check,
//! the flat form and `reject` go through the generated variant, so the WIT
//! definition stays the only source of truth.
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};

use super::bindings::router::bindery::plugin::routing::Decision as Generated;

/// What a router answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Candidate indices in the order to try them, as the router gave them.
    Try(Vec<u32>),
    /// The router refused the connection or request.
    Reject(String),
}

const _: () = assert!(Generated::ABI.size32 == 12 && Generated::ABI.align32 == 4);

impl From<Generated> for Decision {
    fn from(d: Generated) -> Decision {
        match d {
            Generated::Try(order) => Decision::Try(order),
            Generated::Reject(reason) => Decision::Reject(reason),
        }
    }
}

fn word(bytes: &[u8], at: usize) -> Option<usize> {
    let word: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(word)).ok()
}

// SAFETY: the ABI, the flat representation and the type check are the
// generated variant's, which wasmtime derives from the WIT definition.
unsafe impl ComponentType for Decision {
    type Lower = <Generated as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = Generated::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        Generated::typecheck(ty, types)
    }
}

// SAFETY: `try` is read within the bounds of guest memory (checked) in the
// layout asserted above; everything else is lifted by the generated variant.
unsafe impl Lift for Decision {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        Generated::linear_lift_from_flat(cx, ty, src).map(Decision::from)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        if bytes.first() != Some(&0) {
            return Generated::linear_lift_from_memory(cx, ty, bytes).map(Decision::from);
        }
        let (Some(ptr), Some(len)) = (word(bytes, 4), word(bytes, 8)) else {
            wasmtime::bail!("decision out of bounds of its return area");
        };
        if ptr % 4 != 0 {
            wasmtime::bail!("list pointer is not aligned");
        }
        let indices = len
            .checked_mul(4)
            .and_then(|size| cx.memory().get(ptr..)?.get(..size))
            .ok_or_else(|| wasmtime::format_err!("list pointer/length out of bounds of memory"))?;
        Ok(Decision::Try(
            indices
                .chunks_exact(4)
                .map(|i| u32::from_le_bytes([i[0], i[1], i[2], i[3]]))
                .collect(),
        ))
    }
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
