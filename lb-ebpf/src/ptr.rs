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
