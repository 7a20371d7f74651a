//! The one way to touch packet bytes.

use aya_ebpf::programs::XdpContext;

/// A pointer to a `T` at `offset` bytes into the packet, or `None` when the packet is too
/// short. The comparison against `data_end` is what lets the verifier accept the access, so it
/// must stay in this exact shape (start + offset + size > end) and be made before every read.
#[inline(always)]
pub fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*mut T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *mut T)
}

/// Zeroes a value in place, 8 bytes at a time. `mem::zeroed` or a struct literal with zeroed
/// fields becomes a call to a byte-loop `memset` subprogram on the BPF target once the value
/// reaches 16 bytes or so; volatile stores cannot be folded into one.
///
/// # Safety
/// `p` must be valid for writes of `T`, 8-byte aligned, and `T`'s size a multiple of 8.
#[inline(always)]
pub unsafe fn zero_in_place<T>(p: *mut T) {
    let words = core::mem::size_of::<T>() / 8;
    let w = p as *mut u64;
    let mut i = 0;
    while i < words {
        // SAFETY: i < words keeps the store inside *p (the caller's contract).
        unsafe { w.add(i).write_volatile(0) };
        i += 1;
    }
}

/// Copies an address (four words) to `dst`, which may be unaligned (a packet) or in a map.
/// The reads are volatile: when source and destination both lie outside the stack (packet,
/// map values), LLVM cannot rule out overlap and would turn a plain copy into a call to a
/// byte-loop `memmove` subprogram.
///
/// # Safety
/// `dst` must be valid for writes of 16 bytes.
#[inline(always)]
pub unsafe fn store_addr(dst: *mut u8, src: &[u32; 4]) {
    // SAFETY: `src` is a valid reference; the caller vouches for `dst`.
    unsafe {
        let w = [
            core::ptr::read_volatile(&src[0]),
            core::ptr::read_volatile(&src[1]),
            core::ptr::read_volatile(&src[2]),
            core::ptr::read_volatile(&src[3]),
        ];
        let d = dst as *mut u32;
        d.write_unaligned(w[0]);
        d.add(1).write_unaligned(w[1]);
        d.add(2).write_unaligned(w[2]);
        d.add(3).write_unaligned(w[3]);
    }
}
