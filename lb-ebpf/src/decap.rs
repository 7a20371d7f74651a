//! The real-server side: strips the IPIP header the director added, so that a real server
//! needs no kernel tunnel module, and hands the inner packet to the host stack.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use lb_common::reason;

use crate::{
    parse::{ETH_HLEN, ETH_P_IP, IPPROTO_IPIP, eth_proto, ipv4_header},
    ptr::ptr_at,
    verdict::Verdict,
};

#[inline(always)]
pub fn process(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let not_ours = Verdict::pass(reason::DECAP_PASS);
    if eth_proto(ctx).map_err(|_| not_ours)? != ETH_P_IP {
        return Err(not_ours);
    }
    let outer = ipv4_header(ctx, ETH_HLEN).map_err(|_| not_ours)?;
    let outer_len = outer.hlen;
    if outer.proto != IPPROTO_IPIP {
        return Err(not_ours);
    }
    // The inner packet must itself be a sound IPv4 header before we expose it.
    ipv4_header(ctx, ETH_HLEN + outer_len).map_err(|_| Verdict::pass(reason::DECAP_BAD))?;

    let eth: *const [u8; ETH_HLEN] = ptr_at(ctx, 0).ok_or(not_ours)?;
    // SAFETY: in bounds.
    let hdr = unsafe { eth.read_unaligned() };
    // SAFETY: shrinking by the outer header, which is inside the packet (checked above).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, outer_len as i32) } != 0 {
        return Err(Verdict::pass(reason::DECAP_BAD));
    }
    // adjust_head invalidated the earlier checks: check again before writing the header back.
    let eth: *mut [u8; ETH_HLEN] = ptr_at(ctx, 0).ok_or(Verdict::drop(reason::DECAP_BAD))?;
    // SAFETY: in bounds. The inner packet is IPv4 as well, so the type field stays.
    unsafe { eth.write_unaligned(hdr) };
    Ok(Verdict::pass(reason::DECAP_IPIP))
}
