//! The built-in plugins' allocator (`plugins/guest-alloc`), run natively: the
//! plugins workspace builds only for wasm32-wasip2, where nothing runs tests.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use guest_alloc::SizeClasses;

/// The system allocator, counting what reaches it.
#[derive(Default)]
struct Counting {
    allocs: Cell<usize>,
    frees: Cell<usize>,
}

// SAFETY: each test owns its allocator and uses it from one thread.
unsafe impl Sync for Counting {}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocs.set(self.allocs.get() + 1);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.frees.set(self.frees.get() + 1);
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("a valid layout")
}

#[test]
fn small_blocks_are_aligned_distinct_and_reused_after_free() {
    let a = SizeClasses::new(Counting::default());
    let sizes = [1, 8, 16, 17, 32, 100, 128, 600, 2048];
    let blocks: Vec<(*mut u8, Layout)> = sizes
        .iter()
        .map(|&n| {
            let l = layout(n, 8);
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null());
            assert_eq!(p as usize % 16, 0, "16-aligned");
            unsafe { p.write_bytes(n as u8, n) };
            (p, l)
        })
        .collect();
    for (i, &(p, l)) in blocks.iter().enumerate() {
        let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
        assert!(
            bytes.iter().all(|&b| b == sizes[i] as u8),
            "block {i} kept its bytes"
        );
    }
    assert_eq!(a_backing(&a).allocs.get(), 1, "one chunk serves them all");
    let (p, l) = blocks[5];
    unsafe { a.dealloc(p, l) };
    let again = unsafe { a.alloc(layout(90, 4)) };
    assert_eq!(again, p, "a freed block of the class is handed out next");
    assert_eq!(
        a_backing(&a).frees.get(),
        0,
        "small blocks stay with the allocator"
    );
}

#[test]
fn large_and_over_aligned_layouts_go_to_the_backing_allocator() {
    let a = SizeClasses::new(Counting::default());
    for l in [layout(2049, 8), layout(1 << 20, 8), layout(64, 64)] {
        let p = unsafe { a.alloc(l) };
        assert!(!p.is_null());
        assert_eq!(p as usize % l.align(), 0);
        unsafe { a.dealloc(p, l) };
    }
    let b = a_backing(&a);
    assert_eq!((b.allocs.get(), b.frees.get()), (3, 3));
}

#[test]
fn blocks_carved_across_chunks_never_overlap() {
    let a = SizeClasses::new(Counting::default());
    let l = layout(2048, 16);
    let mut blocks: Vec<usize> = (0..100).map(|_| unsafe { a.alloc(l) } as usize).collect();
    assert!(
        a_backing(&a).allocs.get() >= 4,
        "100 × 2 KiB needs four 64 KiB chunks"
    );
    blocks.sort_unstable();
    assert!(blocks.windows(2).all(|w| w[1] - w[0] >= 2048));
}

#[test]
fn realloc_keeps_the_block_within_its_class_and_moves_the_bytes_across() {
    let a = SizeClasses::new(Counting::default());
    let l = layout(20, 4);
    let p = unsafe { a.alloc(l) };
    unsafe { p.copy_from(b"0123456789abcdefghij".as_ptr(), 20) };
    let same = unsafe { a.realloc(p, l, 32) };
    assert_eq!(same, p, "20 and 32 bytes share a class");
    let moved = unsafe { a.realloc(same, layout(32, 4), 5000) };
    assert_ne!(moved, p);
    let bytes = unsafe { std::slice::from_raw_parts(moved, 20) };
    assert_eq!(bytes, b"0123456789abcdefghij");
    let back = unsafe { a.realloc(moved, layout(5000, 4), 24) };
    assert_eq!(
        unsafe { std::slice::from_raw_parts(back, 20) },
        b"0123456789abcdefghij"
    );
    assert_eq!(back, p, "the freed 32-byte block is reused");
}

fn a_backing(a: &SizeClasses<Counting>) -> &Counting {
    a.backing()
}
