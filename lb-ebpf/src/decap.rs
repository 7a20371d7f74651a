//! The real-server side: strips the tunnel header the director added (IPIP, IPv6 in IPv4,
//! IPv4 or IPv6 in IPv6, and GUE or GRE over either), so that a real server needs no kernel tunnel
//! module, and hands the inner packet to the host stack.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use lb_common::{FAMILY_V4, FAMILY_V6, PROTO_UDP, reason};

use crate::{
    headers::{
        ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE, GRE_F_CSUM, GRE_F_KEY, GRE_F_ROUTING, GRE_F_SEQ,
        GRE_HLEN, GRE_OPT_LEN, GRE_VERSION, GUE_HLEN, IP_MF, IP_OFFSET, IPPROTO_GRE, IPPROTO_IPIP,
        IPPROTO_IPV6, IPV4_HLEN_MAX, IPV6_HLEN, UDP_HLEN,
    },
    maps::DECAP_CONFIG,
    parse::{eth_proto, ipv4_header, ipv6_header},
    ptr::ptr_at,
    verdict::Verdict,
    xmit::route::ethertype,
};

/// GUE to the configured port (`lbd decap --gue-port`): the length of everything before the
/// inner packet, and the inner protocol. Variant 0 (a GUE header: version 0, a data
/// message, `hlen` words of options skipped, the inner protocol; what lb and IPVS send) and
/// variant 1 (the inner IP header right after UDP; its version says which IP).
#[inline(always)]
fn gue(ctx: &XdpContext, ip_len: usize) -> Result<(usize, u8), ()> {
    let port = match DECAP_CONFIG.get(0) {
        Some(c) if c.gue_port != 0 => c.gue_port,
        _ => return Err(()),
    };
    // Only for the verifier: an IPv4 header is at most 60 bytes (checked by ipv4_header).
    if ip_len > IPV4_HLEN_MAX {
        return Err(());
    }
    let h: *const u8 =
        ptr_at::<[u8; UDP_HLEN + GUE_HLEN]>(ctx, ETH_HLEN + ip_len).ok_or(())? as *const u8;
    // SAFETY: the 12 bytes were checked above.
    let (dport, first, proto) = unsafe {
        (
            (h.add(2) as *const u16).read_unaligned(),
            *h.add(UDP_HLEN),
            *h.add(UDP_HLEN + 1),
        )
    };
    if dport != port {
        return Err(());
    }
    match first >> 6 {
        // Variant 0, data message (C = 0).
        0 if first & 0x20 == 0 => {
            let hlen = (first & 0x1f) as usize * 4;
            Ok((ip_len + UDP_HLEN + GUE_HLEN + hlen, proto))
        }
        // Variant 1: IPv4 (0x4_) or IPv6 (0x6_) right after UDP.
        1 => Ok((
            ip_len + UDP_HLEN,
            if first >> 4 == 6 {
                IPPROTO_IPV6
            } else {
                IPPROTO_IPIP
            },
        )),
        _ => Err(()),
    }
}

/// GRE (RFC 2784 / 2890): version 0; checksum, key and sequence number skipped when
/// present; the inner protocol from the protocol type (IPv4 or IPv6, else not ours).
#[inline(always)]
fn gre(ctx: &XdpContext, ip_len: usize) -> Result<(usize, u8), ()> {
    // Only for the verifier: an IPv4 header is at most 60 bytes (checked by ipv4_header).
    if ip_len > IPV4_HLEN_MAX {
        return Err(());
    }
    let h: *const u8 = ptr_at::<[u8; GRE_HLEN]>(ctx, ETH_HLEN + ip_len).ok_or(())? as *const u8;
    // SAFETY: the 4 bytes were checked above.
    let (flags, proto) = unsafe { (*h, u16::from_be((h.add(2) as *const u16).read_unaligned())) };
    // Version (low 3 bits of the second byte) must be 0; routing (R) is obsolete.
    // SAFETY: as above.
    if unsafe { *h.add(1) } & GRE_VERSION != 0 || flags & GRE_F_ROUTING != 0 {
        return Err(());
    }
    let opts = ((flags & GRE_F_CSUM != 0) as usize
        + (flags & GRE_F_KEY != 0) as usize
        + (flags & GRE_F_SEQ != 0) as usize)
        * GRE_OPT_LEN;
    let inner = match proto {
        ETH_P_IP => IPPROTO_IPIP,
        ETH_P_IPV6 => IPPROTO_IPV6,
        _ => return Err(()),
    };
    Ok((ip_len + GRE_HLEN + opts, inner))
}

#[inline(always)]
pub fn process(ctx: &XdpContext) -> Result<Verdict, Verdict> {
    let not_ours = Verdict::pass(reason::DECAP_PASS);
    let (outer_len, inner) = match eth_proto(ctx).map_err(|_| not_ours)? {
        ETH_P_IP => {
            let h = ipv4_header(ctx, ETH_HLEN).map_err(|_| not_ours)?;
            // A fragment of a tunnelled packet: the host stack reassembles (or not) first.
            if h.frag & (IP_MF | IP_OFFSET) != 0 {
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
    let bad = Verdict::pass(reason::DECAP_BAD);
    let (outer_len, inner) = if inner == PROTO_UDP {
        gue(ctx, outer_len).map_err(|_| not_ours)?
    } else if inner == IPPROTO_GRE {
        gre(ctx, outer_len).map_err(|_| not_ours)?
    } else {
        (outer_len, inner)
    };
    // The inner packet must itself be a sound IP header before we expose it.
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
    hdr[ETH_TYPE..].copy_from_slice(&ethertype(family).to_be_bytes());
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
