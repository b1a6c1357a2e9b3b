//! A size-class allocator for the built-in plugins.
//!
//! A router call allocates a few small blocks and frees them before it
//! returns: the candidate list the host lowers (`cabi_realloc`), the vector
//! the bindings lift it into, the ordered answer (freed at post-return).
//! Under Rust's default dlmalloc each of those is a bin search and a
//! coalesce; here a block of up to 2 KiB is a pop from, and a push onto,
//! the free list of its power-of-two class, and new blocks are carved from
//! 64 KiB chunks. Larger or over-aligned layouts go to the system
//! allocator. Freed small blocks are kept for reuse, never returned: a
//! plugin's footprint is its peak, under the host's memory cap.
//!
//! WebAssembly guests here are single-threaded; the allocator relies on it
//! and refuses to build with the `atomics` target feature.
#![no_std]

#[cfg(target_feature = "atomics")]
compile_error!("guest-alloc assumes a single-threaded guest");

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};

/// Smallest class: 16 bytes, which also bounds the alignment served.
const MIN_SHIFT: u32 = 4;
/// Classes 16, 32, ..., 2048 bytes.
const CLASSES: usize = 8;
const MAX_SMALL: usize = 1 << (MIN_SHIFT as usize + CLASSES - 1);
const CHUNK: usize = 64 * 1024;

/// Wraps `A` (the system allocator in the plugins) for large blocks and
/// for the chunks the small ones are carved from.
pub struct SizeClasses<A> {
    backing: A,
    state: UnsafeCell<State>,
}

struct State {
    /// Heads of the free lists; a free block holds the next pointer.
    free: [*mut u8; CLASSES],
    /// The unused rest of the current chunk.
    bump: *mut u8,
    end: *mut u8,
}

// SAFETY: WebAssembly guests without the `atomics` feature have one
// thread (see the compile_error above), so the state is never touched
// concurrently. Elsewhere (the native tests) the allocator stays !Sync.
#[cfg(target_family = "wasm")]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A> SizeClasses<A> {
    pub const fn new(backing: A) -> SizeClasses<A> {
        SizeClasses {
            backing,
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }

    /// The allocator large blocks and chunks come from.
    pub fn backing(&self) -> &A {
        &self.backing
    }
}

/// The class of a layout, or `None` for the backing allocator.
fn class(layout: Layout) -> Option<usize> {
    if layout.size() > MAX_SMALL || layout.align() > 1 << MIN_SHIFT {
        return None;
    }
    let size = layout.size().max(1 << MIN_SHIFT);
    Some((size.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize)
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            // SAFETY: the caller's layout contract, passed on.
            return unsafe { self.backing.alloc(layout) };
        };
        // SAFETY: single-threaded, and no reference to the state outlives
        // this call.
        let s = unsafe { &mut *self.state.get() };
        if let Some(head) = NonNull::new(s.free[c]) {
            // SAFETY: a free block of this class holds the next pointer.
            s.free[c] = unsafe { head.as_ptr().cast::<*mut u8>().read() };
            return head.as_ptr();
        }
        let size = 1usize << (c as u32 + MIN_SHIFT);
        if (s.end as usize) - (s.bump as usize) < size {
            // The rest of the old chunk is dropped: at most 2 KiB of 64.
            let chunk = Layout::from_size_align(CHUNK, 1 << MIN_SHIFT);
            // SAFETY: a valid non-zero layout.
            let fresh = match chunk {
                Ok(l) => unsafe { self.backing.alloc(l) },
                Err(_) => ptr::null_mut(),
            };
            if fresh.is_null() {
                return fresh;
            }
            s.bump = fresh;
            // SAFETY: within the chunk just allocated.
            s.end = unsafe { fresh.add(CHUNK) };
        }
        let block = s.bump;
        // SAFETY: `size` bytes remain before `end`.
        s.bump = unsafe { block.add(size) };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(c) = class(layout) else {
            // SAFETY: allocated by the backing allocator with this layout.
            return unsafe { self.backing.dealloc(block, layout) };
        };
        // SAFETY: single-threaded; `block` is a block of class `c` the
        // caller no longer uses, at least 16 bytes, 16-aligned.
        unsafe {
            let s = &mut *self.state.get();
            block.cast::<*mut u8>().write(s.free[c]);
            s.free[c] = block;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align(new_size, layout.align());
        match (class(layout), new) {
            // Same class: the block already has room.
            (Some(c), Ok(new)) if class(new) == Some(c) => block,
            // Both large: the backing allocator may grow in place.
            (None, Ok(new)) if class(new).is_none() => {
                // SAFETY: allocated by the backing allocator with `layout`.
                unsafe { self.backing.realloc(block, layout, new_size) }
            }
            (_, Ok(new)) => {
                // SAFETY: the caller's contract for `realloc`, split into
                // its parts; the copy covers what both blocks hold.
                unsafe {
                    let moved = self.alloc(new);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
            (_, Err(_)) => ptr::null_mut(),
        }
    }
}

/// Makes [`SizeClasses`] over the system allocator the global allocator of
/// the plugin that invokes it (once, at the crate root).
#[macro_export]
macro_rules! install {
    () => {
        #[global_allocator]
        static GUEST_ALLOC: $crate::SizeClasses<::std::alloc::System> =
            $crate::SizeClasses::new(::std::alloc::System);
    };
}
