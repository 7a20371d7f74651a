//! Checksums a sender left to the hardware (Linux's CHECKSUM_PARTIAL). A sender whose device
//! offers checksum offload (every veth does, and a bridge or GSO segmenting in between makes
//! such packets too) puts only the pseudo-header's sum into the TCP/UDP checksum field and
//! leaves the rest to the device that transmits it. Such a packet that reaches `lb` through a
//! veth still carries that half-done checksum, and once `lb` sends it on with XDP_TX or a
//! redirect the kernel no longer knows it is unfinished: the receiver sees a bad checksum and
//! drops it (`TcpInCsumErrors`). So before `lb` sends a packet whose checksum field holds
//! exactly its pseudo-header's sum, it finishes the checksum the way the device would have
//! (the one's complement of the sum over the segment, field included) and counts
//! `csum_completed`. A packet `lb` hands to the kernel instead keeps the kernel's state, so
//! `nat` then keeps its field a pseudo-header sum (see `nat.rs`).
//!
//! A complete checksum that happens to equal the pseudo-header's sum (one packet in 65,536)
//! is recomputed to the same value: the test costs only the time of the sum.

use core::ffi::c_void;

use aya_ebpf::{
    bindings::xdp_md,
    helpers::{bpf_csum_diff, bpf_loop, bpf_xdp_load_bytes},
    programs::XdpContext,
};
use lb_common::{FAMILY_V6, PROTO_SCTP, PROTO_TCP, reason};

use crate::{
    count::count,
    csum,
    headers::{ETH_HLEN, TCP_CSUM, UDP_CSUM},
    maps::scratch,
    parse::{FRAG_NONE, Packet},
    ptr::ptr_at,
    verdict::Verdict,
};

/// Bytes copied and summed at a time (`bpf_csum_diff` takes at most 512; the scratch
/// buffer's size).
const CHUNK: usize = 512;
/// Chunks a segment may have: 8 (4,096 bytes: a page, the most of a frame XDP sees without
/// multi-buffer support, which `lb` does not ask for).
const MAX_CHUNKS: usize = 8;

/// The transport segment's length, from the IP header's (checked by `parse` against the
/// frame).
#[inline(always)]
fn l4_len(pkt: &Packet) -> usize {
    (pkt.ip_len as usize + ETH_HLEN).saturating_sub(pkt.l4())
}

/// The offset of the packet's TCP or UDP checksum field.
#[inline(always)]
fn check_off(pkt: &Packet) -> usize {
    pkt.l4()
        + if pkt.flow.proto == PROTO_TCP {
            TCP_CSUM
        } else {
            UDP_CSUM
        }
}

/// The folded sum of the packet's pseudo-header (addresses, protocol, segment length: the
/// same words for IPv4 and IPv6), as a partial checksum field holds it.
#[inline(always)]
pub fn pseudo_sum(pkt: &Packet) -> u16 {
    let words = if pkt.flow.family == FAMILY_V6 { 4 } else { 1 };
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 4 {
        if i < words {
            let (s, d) = (pkt.flow.src[i], pkt.flow.dst[i]);
            sum += (s & 0xffff) + (s >> 16) + (d & 0xffff) + (d >> 16);
        }
        i += 1;
    }
    sum += u16::from(pkt.flow.proto).to_be() as u32;
    sum += (l4_len(pkt) as u16).to_be() as u32;
    csum::fold(sum)
}

/// Whether a TCP/UDP checksum field's value `check` says the sender left it for the
/// hardware: it is the pseudo-header's sum. Never for a fragment (a sender segments before it
/// fragments) or a UDP datagram without a checksum.
#[inline(always)]
pub fn holds_pseudo_sum(pkt: &Packet, check: u16) -> bool {
    pkt.frag == FRAG_NONE && check != 0 && check == pseudo_sum(pkt)
}

/// Finishes a partial checksum: the one's complement of the sum of every 16-bit word of the
/// segment, its checksum field (the pseudo-header's sum, at `field`, which the caller
/// checked) included, summed by [`sum`].
#[inline(always)]
pub fn finish(ctx: &XdpContext, pkt: &Packet, field: *mut u16) -> Result<(), Verdict> {
    let bad = Verdict::pass(reason::PASS_SHORT_L4);
    let acc = sum(ctx, pkt.l4() as u32, l4_len(pkt) as u32).ok_or(bad)?;
    let mut c = !csum::fold(acc);
    if pkt.flow.proto != PROTO_TCP && c == 0 {
        // UDP: 0 would mean "no checksum" (RFC 768).
        c = 0xffff;
    }
    // SAFETY: the caller checked `field`; no helper since moved the packet.
    unsafe { field.write_unaligned(c) };
    count(reason::CSUM_COMPLETED);
    Ok(())
}

/// The 32-bit one's complement sum (`bpf_csum_diff`'s, not folded) of the `len` bytes of the
/// frame from offset `start`, an odd length padded with a zero byte (RFC 1071), the words
/// taken as they lie in memory; None when longer than any frame lb is given or a helper
/// failed. Copied into the scratch slot a chunk at a time (`bpf_xdp_load_bytes` takes a
/// length the verifier only knows the bounds of, a packet pointer does not) and summed there
/// by `bpf_csum_diff`, in a `bpf_loop` (the verifier checks its step once, where a plain
/// loop is checked once per iteration and path: that blew its budget).
#[inline(always)]
pub fn sum(ctx: &XdpContext, start: u32, len: u32) -> Option<u32> {
    let scratch = scratch()?;
    if len as usize > MAX_CHUNKS * CHUNK {
        return None;
    }
    {
        // SAFETY: this CPU's slot, used by nothing else during this run.
        let w = unsafe { &mut (*scratch).csum };
        w.start = start;
        w.len = len;
        w.off = 0;
        w.acc = 0;
        w.failed = 0;
    }
    // The step finds the packet through a pointer to this stack slot (bpf_loop's context
    // must be on the stack).
    let mut xdp = ctx.ctx;
    // SAFETY: the callback matches bpf_loop's contract; its state is in the scratch map.
    unsafe {
        bpf_loop(
            MAX_CHUNKS as u32,
            chunk_step as *mut c_void,
            &mut xdp as *mut *mut xdp_md as *mut c_void,
            0,
        )
    };
    // SAFETY: as above (the map value stays valid for the whole run).
    let w = unsafe { &(*scratch).csum };
    if w.failed != 0 || w.off != w.len {
        return None;
    }
    Some(w.acc)
}

/// One chunk of [`sum`]; returns 1 to stop, 0 to go on. The last chunk's last word
/// is zeroed before the copy, so that an odd length sums as RFC 1071 pads it.
extern "C" fn chunk_step(_i: u32, xdp: *mut c_void) -> i64 {
    let Some(scratch) = scratch() else {
        return 1;
    };
    // SAFETY: this CPU's slot; `finish` filled the walk's state before the loop.
    let w = unsafe { &mut (*scratch).csum };
    if w.off >= w.len {
        return 1;
    }
    let rest = (w.len - w.off) as usize;
    let n = if rest > CHUNK { CHUNK } else { rest };
    // For the verifier: a length it knows is 1 to CHUNK (the same value: n is 1 to CHUNK
    // already, but the compiler drops a plain check it can prove).
    let n = (n.wrapping_sub(1) & (CHUNK - 1)) + 1;
    if n % 4 != 0 {
        w.buf[(n / 4) & (CHUNK / 4 - 1)] = 0;
    }
    // SAFETY: `finish` passed a pointer to its stack slot holding the program's context; the
    // helper copies n (at most CHUNK) bytes of the packet into the buffer.
    let r = unsafe {
        bpf_xdp_load_bytes(
            *(xdp as *mut *mut xdp_md),
            w.start + w.off,
            w.buf.as_mut_ptr() as *mut c_void,
            n as u32,
        )
    };
    if r < 0 {
        w.failed = 1;
        return 1;
    }
    let words = (n + 3) & !3;
    // SAFETY: the helper reads `words` (at most CHUNK) bytes of the buffer.
    let r = unsafe {
        bpf_csum_diff(
            core::ptr::null_mut(),
            0,
            w.buf.as_mut_ptr(),
            words as u32,
            w.acc,
        )
    };
    if r < 0 {
        w.failed = 1;
        return 1;
    }
    w.acc = r as u32;
    w.off += n as u32;
    0
}

/// Before `lb` forwards a packet (every method, both `nat` directions; `director.rs` calls
/// it at its two ways out, so that the verifier checks the loop twice, not once per method):
/// finishes its checksum if the sender left it for the hardware, and remembers that it did
/// for `nat`, which makes it a pseudo-header sum again if it hands the packet to the kernel.
#[inline(always)]
pub fn before_send(ctx: &XdpContext, pkt: &Packet) -> Result<(), Verdict> {
    // SCTP's CRC32c has no pseudo-header sum to recognise (and bytes 6-7 of its header are
    // the verification tag's): left as it is.
    if pkt.frag != FRAG_NONE || pkt.flow.proto == PROTO_SCTP {
        return Ok(());
    }
    let Some(field) = ptr_at::<u16>(ctx, check_off(pkt)) else {
        return Ok(());
    };
    // SAFETY: checked just above.
    if holds_pseudo_sum(pkt, unsafe { field.read_unaligned() }) {
        finish(ctx, pkt, field)?;
        if let Some(scratch) = scratch() {
            // SAFETY: this CPU's slot.
            unsafe { (*scratch).csum.finished = 1 };
        }
    }
    Ok(())
}

/// Whether [`before_send`] finished this packet's checksum (`director.rs` clears it for
/// every packet).
#[inline(always)]
pub fn finished() -> bool {
    // SAFETY: this CPU's slot.
    scratch().is_some_and(|s| unsafe { (*s).csum.finished } != 0)
}
