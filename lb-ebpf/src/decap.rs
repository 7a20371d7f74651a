//! The real-server side: strips the tunnel header the director added (IPIP, IPv6 in IPv4,
//! IPv4 or IPv6 in IPv6), so that a real server needs no kernel tunnel module, and hands the
//! inner packet to the host stack.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use lb_common::{FAMILY_V4, FAMILY_V6, reason};

use crate::{
    forward::ethertype,
    parse::{
        ETH_HLEN, ETH_P_IP, ETH_P_IPV6, IPPROTO_IPIP, IPPROTO_IPV6, IPV6_HLEN, eth_proto,
        ipv4_header, ipv6_header,
    },
    ptr::ptr_at,
    verdict::Verdict,
};

#[inline(always)]
pub fn process(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let not_ours = Verdict::pass(reason::DECAP_PASS);
    let (outer_len, inner) = match eth_proto(ctx).map_err(|_| not_ours)? {
        ETH_P_IP => {
            let h = ipv4_header(ctx, ETH_HLEN).map_err(|_| not_ours)?;
            // A fragment of a tunnelled packet: the host stack reassembles (or not) first.
            if h.frag & 0x3fff != 0 {
                return Err(not_ours);
            }
            (h.hlen, h.proto)
        }
        ETH_P_IPV6 => {
            let h = ipv6_header(ctx, ETH_HLEN).map_err(|_| not_ours)?;
            (IPV6_HLEN, h.next)
        }
        _ => return Err(not_ours),
    };
    // The inner packet must itself be a sound IP header before we expose it.
    let bad = Verdict::pass(reason::DECAP_BAD);
    let family = match inner {
        IPPROTO_IPIP => {
            ipv4_header(ctx, ETH_HLEN + outer_len).map_err(|_| bad)?;
            FAMILY_V4
        }
        IPPROTO_IPV6 => {
            ipv6_header(ctx, ETH_HLEN + outer_len).map_err(|_| bad)?;
            FAMILY_V6
        }
        _ => return Err(not_ours),
    };
    let eth: *const [u8; ETH_HLEN] = ptr_at(ctx, 0).ok_or(not_ours)?;
    // SAFETY: in bounds.
    let mut hdr = unsafe { eth.read_unaligned() };
    hdr[12..].copy_from_slice(&ethertype(family).to_be_bytes());
    // SAFETY: shrinking by the outer header, which is inside the packet (checked above).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, outer_len as i32) } != 0 {
        return Err(bad);
    }
    // adjust_head invalidated the earlier checks: check again before writing the header back.
    let eth: *mut [u8; ETH_HLEN] = ptr_at(ctx, 0).ok_or(Verdict::drop(reason::DECAP_BAD))?;
    // SAFETY: in bounds.
    unsafe { eth.write_unaligned(hdr) };
    Ok(Verdict::pass(reason::DECAP_STRIPPED))
}
