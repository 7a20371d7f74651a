//! Benchmark-only programs for `cargo xtask bench` (never attached by lbd).
//!
//! `BPF_PROG_TEST_RUN` repeats reuse one buffer without restoring it, so a program that
//! encapsulates would see its own output on the next repeat. `bench_shim` undoes that (strips
//! an IPIP header), optionally makes every repeat a new flow (source port from a counter), and
//! tail-calls the program under test; every measured program, baselines included, runs
//! through it so that its small cost cancels out of the ratios.

use aya_ebpf::{bindings::xdp_action, helpers::bpf_xdp_adjust_head, programs::XdpContext};

use crate::{
    headers::{
        ETH_ALEN, ETH_HLEN, ETH_P_IP, ETH_P_IPV6, IP_PROTO, IP6_NEXTHDR, IPPROTO_IPIP,
        IPPROTO_IPV6, IPV4_HLEN_MIN, IPV6_HLEN,
    },
    maps::{BENCH_PROGS, BENCH_STATE},
    parse::eth_proto,
    ptr::ptr_at,
};

#[inline(always)]
pub fn shim(ctx: &XdpContext) -> u32 {
    // Strip the outer header `lb` added on the previous repeat: 20 bytes of IPv4 or 40 of
    // IPv6 carrying IPIP or IPv6 (lb's outer headers have no options or extensions).
    let outer = match eth_proto(ctx) {
        Ok(ETH_P_IP) => match ptr_at::<u8>(ctx, ETH_HLEN + IP_PROTO) {
            // SAFETY: in bounds.
            Some(p) if matches!(unsafe { *p }, IPPROTO_IPIP | IPPROTO_IPV6) => IPV4_HLEN_MIN,
            _ => 0,
        },
        Ok(ETH_P_IPV6) => match ptr_at::<u8>(ctx, ETH_HLEN + IP6_NEXTHDR) {
            // SAFETY: in bounds.
            Some(p) if matches!(unsafe { *p }, IPPROTO_IPIP | IPPROTO_IPV6) => IPV6_HLEN,
            _ => 0,
        },
        _ => 0,
    };
    // SAFETY: shrinks within the packet (the outer header was there). The Ethernet header is
    // rewritten by the restore below.
    if outer != 0 && unsafe { bpf_xdp_adjust_head(ctx.ctx, outer as i32) } != 0 {
        return xdp_action::XDP_ABORTED;
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
    match ptr_at::<[u8; 2 * ETH_ALEN]>(ctx, 0) {
        Some(p) => {
            // SAFETY: in bounds.
            let mut m = unsafe { p.read_unaligned() };
            let mut i = 0;
            while i < ETH_ALEN {
                m.swap(i, i + ETH_ALEN);
                i += 1;
            }
            // SAFETY: in bounds.
            unsafe { p.write_unaligned(m) };
            xdp_action::XDP_TX
        }
        None => xdp_action::XDP_PASS,
    }
}
