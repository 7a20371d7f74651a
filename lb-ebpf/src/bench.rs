//! Benchmark-only programs for `cargo xtask bench` (never attached by lbd).
//!
//! `BPF_PROG_TEST_RUN` repeats reuse one buffer without restoring it, so a program that
//! encapsulates would see its own output on the next repeat. `bench_shim` undoes that (strips
//! an IPIP header), optionally makes every repeat a new flow (source port from a counter), and
//! tail-calls the program under test; every measured program, baselines included, runs
//! through it so that its small cost cancels out of the ratios.

use aya_ebpf::{bindings::xdp_action, helpers::bpf_xdp_adjust_head, programs::XdpContext};

use crate::{
    maps::{BENCH_PROGS, BENCH_STATE},
    parse::{ETH_HLEN, ETH_P_IP, IPPROTO_IPIP, IPV4_HLEN_MIN, eth_proto},
    ptr::ptr_at,
};

#[inline(always)]
pub fn shim(ctx: &XdpContext) -> u32 {
    if let Ok(ETH_P_IP) = eth_proto(ctx)
        && let Some(p) = ptr_at::<u8>(ctx, ETH_HLEN + 9)
        // SAFETY: in bounds.
        && unsafe { *p } == IPPROTO_IPIP
    {
        // The outer header `lb` writes is always 20 bytes.
        // SAFETY: shrinks within the packet (the IPIP header was there).
        if unsafe { bpf_xdp_adjust_head(ctx.ctx, IPV4_HLEN_MIN as i32) } != 0 {
            return xdp_action::XDP_ABORTED;
        }
        match ptr_at::<[u8; 2]>(ctx, 12) {
            // SAFETY: in bounds (re-checked after adjust_head).
            Some(t) => unsafe { t.write_unaligned(ETH_P_IP.to_be_bytes()) },
            None => return xdp_action::XDP_ABORTED,
        }
    }
    if let Some(st) = BENCH_STATE.get_ptr_mut(0) {
        // SAFETY: per-CPU slot.
        let st = unsafe { &mut *st };
        if st.restore != 0 {
            let Some(head) = ptr_at::<[u64; 8]>(ctx, 0) else {
                return xdp_action::XDP_ABORTED;
            };
            let head = head as *mut u64;
            let mut i = 0;
            while i < 8 {
                // SAFETY: inside the 64 bytes checked above. Volatile: no memcpy call.
                unsafe { head.add(i).write_volatile(st.head[i]) };
                i += 1;
            }
        }
        if st.new_flows != 0 {
            st.counter = st.counter.wrapping_add(1);
            // Source port of an IPv4 packet without options (the bench's packets have none).
            if let Some(sport) = ptr_at::<u16>(ctx, ETH_HLEN + IPV4_HLEN_MIN) {
                // SAFETY: in bounds.
                unsafe { sport.write_unaligned((st.counter as u16).to_be()) };
            }
        }
    }
    // SAFETY: tail call into a program of the same type; returns only if slot 0 is empty.
    unsafe { BENCH_PROGS.tail_call(ctx, 0) };
    xdp_action::XDP_ABORTED
}

/// Baseline: swap the MAC addresses and send the frame back (the least a forwarder does).
#[inline(always)]
pub fn tx(ctx: &XdpContext) -> u32 {
    match ptr_at::<[u8; 12]>(ctx, 0) {
        Some(p) => {
            // SAFETY: in bounds.
            let mut m = unsafe { p.read_unaligned() };
            let mut i = 0;
            while i < 6 {
                m.swap(i, i + 6);
                i += 1;
            }
            // SAFETY: in bounds.
            unsafe { p.write_unaligned(m) };
            xdp_action::XDP_TX
        }
        None => xdp_action::XDP_PASS,
    }
}
