//! `tun` (ipvsadm `-i`): the packet travels to the real server inside an outer IP header of
//! the real server's family: IPIP (RFC 2003) or IPv6 in IPv4 (RFC 4213) to an IPv4 real
//! server, IPv6 or IPv4 in IPv6 (RFC 2473) to an IPv6 one.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use lb_common::{
    FAMILY_V4, FAMILY_V6, GlobalConfig, PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP, REAL_F_GRE, hash,
    reason,
};

use super::{
    route::{self, Target, ethertype, next_hop, send},
    too_big,
};
use crate::{
    csum,
    headers::{
        ETH_HLEN, GRE_HLEN, IP_DF, IP_FRAG_OFF, IP_ID, IP6_DADDR, IP6_HOPLIMIT, IP6_NEXTHDR,
        IP6_PAYLOAD_LEN, IP6_SADDR, IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6, IPV4_HLEN_MIN,
        IPV6_HLEN, OWN_TTL, UDP_CSUM, UDP_GUE_HLEN, UDP_HLEN, UDP_LEN,
    },
    parse::Packet,
    ptr::{self, ptr_at},
    verdict::Verdict,
};

/// `ICMP_ERROR`: see `xmit::forward_direct`.
#[inline(always)]
pub fn encap<const ICMP_ERROR: bool>(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    let v6 = to.real.family == FAMILY_V6;
    let ip_hlen = if v6 { IPV6_HLEN } else { IPV4_HLEN_MIN };
    // GUE (ipvsadm --tun-type gue): UDP and a 4-byte GUE header after the outer IP header;
    // GRE (--tun-type gre): a 4-byte GRE header.
    let gue = to.real.tun_port != 0;
    let gre = !gue && to.real.flags & REAL_F_GRE != 0;
    let outer_hlen = ip_hlen
        + if gue {
            UDP_GUE_HLEN
        } else if gre {
            GRE_HLEN
        } else {
            0
        };
    let outer_len = pkt.ip_len as u32 + outer_hlen as u32;
    // Look up the next hop before changing anything, so a failure leaves the packet intact;
    // its path MTU (the route's, else the egress link's) sizes the tunnel, and lbd's MTU of
    // the interfaces is the fallback when the FIB reported none.
    // No neighbour entry for the next hop (a flushed table, a link flap): the tunnelled
    // packet goes to the kernel, which routes it to the real server like any packet it
    // forwards, resolving the neighbour on the way (`pass_no_neigh`), instead of being
    // dropped until lbd has the neighbour resolved.
    let nh = match next_hop(ctx, to, cfg, now) {
        Ok(nh) => nh,
        Err(v) if v.reason == reason::DROP_FIB_NO_NEIGH => {
            // The frame's own MACs (to this interface) are kept for its Ethernet header:
            // the kernel takes only a frame addressed to it.
            route::keep_macs(ctx)?;
            route::set_to_kernel(reason::PASS_NO_NEIGH);
            route::unresolved()?
        }
        Err(v) => return Err(v),
    };
    // The outer source: the config's director address of the family, else the route's.
    let src4 = if cfg.src4 != 0 { cfg.src4 } else { nh.src[0] };
    let src6 = if cfg.src6 != [0; 4] { cfg.src6 } else { nh.src };
    if (v6 && src6 == [0; 4]) || (!v6 && src4 == 0) {
        return Err(Verdict::drop(reason::DROP_NO_SOURCE_ADDR));
    }
    let mtu = if nh.mtu != 0 { nh.mtu as u32 } else { cfg.mtu };
    if outer_len > u16::MAX as u32 || (mtu != 0 && outer_len > mtu) {
        if !v6 && outer_len <= u16::MAX as u32 && may_fragment(ctx, pkt) {
            // IPv4 without DF, to an IPv4 real server: it may be fragmented, which XDP
            // cannot do. Tunnelled with the outer DF clear (the inner's) and handed to the
            // kernel, which fragments the outer packet as it forwards it (IPVS's tunnels
            // leave it to the kernel's output the same way).
            route::keep_macs(ctx)?;
            route::set_to_kernel(reason::PASS_TUN_FRAGMENT);
        } else if ICMP_ERROR || pkt.flow.proto == PROTO_ICMP || pkt.flow.proto == PROTO_ICMPV6 {
            // No ICMP error about ICMP errors (RFC 1122 3.2.2).
            return Err(Verdict::drop(reason::DROP_TOO_BIG));
        } else {
            // Tell the client how large a packet fits once encapsulated (RFC 1191,
            // RFC 8201), so that it lowers its MSS.
            return too_big::reply(ctx, pkt, mtu.saturating_sub(outer_hlen as u32));
        }
    }
    let inner_proto = if pkt.flow.family == FAMILY_V4 {
        IPPROTO_IPIP
    } else {
        IPPROTO_IPV6
    };
    // IPv4 inner: copy its DF bit (RFC 2003 3.1). IPv6 is never fragmented on the way, so its
    // outer IPv4 header forbids it too (RFC 4213 3.2.1). An outer header that may be
    // fragmented gets an identification made of the inner one's (in host order) and the
    // flow's (`id_mix`); with DF it is 0.
    let (df, id) = if pkt.flow.family == FAMILY_V4 {
        let w: *const [u16; 4] =
            ptr_at(ctx, ETH_HLEN).ok_or(Verdict::pass(reason::PASS_BAD_IP_HEADER))?;
        // SAFETY: in bounds: the identification and the flags are the header's 16-bit words
        // at IP_ID and IP_FRAG_OFF.
        let w = unsafe { w.read_unaligned() };
        let df = u16::from_be(w[IP_FRAG_OFF / 2]) & IP_DF;
        (
            df,
            if df == 0 {
                u16::from_be(w[IP_ID / 2])
            } else {
                0
            },
        )
    } else {
        (IP_DF, 0)
    };
    // SAFETY: the helper only moves ctx->data within the frame's headroom.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -(outer_hlen as i32)) } != 0 {
        return Err(Verdict::drop(reason::DROP_NO_HEADROOM));
    }
    let ip_proto = if gue {
        // Entropy for ECMP in the UDP source port (as IPVS's GUE does), from the dynamic
        // port range; computed after the helper calls for the reason given below.
        let sport = 49152 + (hash::flow_hash(&pkt.flow, 0) % 16384) as u16;
        write_gue(
            ctx,
            ip_hlen,
            sport,
            to.real.tun_port,
            outer_len - ip_hlen as u32,
            inner_proto,
        )?;
        PROTO_UDP
    } else if gre {
        write_gre(ctx, ip_hlen, pkt.flow.family)?;
        IPPROTO_GRE
    } else {
        inner_proto
    };
    // adjust_head invalidated every earlier bounds check: the writers check again.
    if v6 {
        // Entropy for ECMP on the way to the real server (RFC 6438). Computed here, after
        // the helper calls: live across them, the flow's ten words would all be spilled.
        let flow_label = hash::flow_hash(&pkt.flow, 0) & 0x000f_ffff;
        write_ipv6(
            ctx,
            pkt,
            to,
            &src6,
            ip_proto,
            flow_label,
            (outer_len - IPV6_HLEN as u32) as u16,
        )?;
    } else {
        let id = if df == 0 {
            id.wrapping_add(id_mix(pkt))
        } else {
            0
        };
        write_ipv4(ctx, pkt, to, src4, ip_proto, outer_len as u16, df, id)?;
    }
    let r = route::to_kernel();
    if r != 0 {
        route::restore_macs(ctx, ethertype(to.real.family))?;
        return Ok(Verdict::pass(r));
    }
    send(ctx, &nh, ethertype(to.real.family), reason::TX)
}

/// Whether the packet is IPv4 without DF (read again from the packet where it is needed:
/// carried from the header's first read, it would cost `lb_icmp` stack it does not have).
#[inline(always)]
fn may_fragment(ctx: &XdpContext, pkt: &Packet) -> bool {
    if pkt.flow.family != FAMILY_V4 {
        return false;
    }
    match ptr_at::<[u16; 4]>(ctx, ETH_HLEN) {
        // SAFETY: in bounds: the flags are the header's 16-bit word at IP_FRAG_OFF.
        Some(w) => u16::from_be(unsafe { w.read_unaligned() }[IP_FRAG_OFF / 2]) & IP_DF == 0,
        None => false,
    }
}

/// RFC 6864 4.1: the identifications of datagrams that may be fragmented must be unique per
/// source, destination and protocol, and every flow to a real server shares the outer ones.
/// The outer identification is the inner one (distinct per datagram of a flow: the sender's
/// job) plus this mix of what tells the flows apart (the inner addresses and ports, as they
/// lie in memory; Fibonacci hashing), so that two clients' datagrams of one inner
/// identification do not share an outer one. Read from the scratch slot's packet: nothing
/// on the stack (`lb_icmp`'s frame is near its 512 bytes).
#[inline(always)]
fn id_mix(pkt: &Packet) -> u16 {
    let f = &pkt.flow;
    let h = f.src[0] ^ f.dst[0].rotate_left(16) ^ (f.sport as u32 | (f.dport as u32) << 16);
    (h.wrapping_mul(0x9e37_79b1) >> 16) as u16
}

/// A GRE header (RFC 2784, version 0, no options) whose protocol type is the inner packet's
/// Ethernet type.
#[inline(always)]
fn write_gre(ctx: &XdpContext, ip_hlen: usize, inner_family: u8) -> Result<(), Verdict> {
    let h: *mut u16 = ptr_at::<[u16; 2]>(ctx, ETH_HLEN + ip_hlen)
        .ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))? as *mut u16;
    // SAFETY: the 4 bytes were checked above.
    unsafe {
        h.write_unaligned(0);
        h.add(1).write_unaligned(ethertype(inner_family).to_be());
    }
    Ok(())
}

/// The UDP header (checksum 0: RFC 768 for IPv4, RFC 6935/6936 for tunnels over IPv6) and a
/// GUE header (draft-ietf-intarea-gue, variant 0: version 0, data message, no options, the
/// inner protocol) after the outer IP header. `udp_len` counts UDP, GUE and the inner packet.
#[inline(always)]
fn write_gue(
    ctx: &XdpContext,
    ip_hlen: usize,
    sport: u16,
    dport_be: u16,
    udp_len: u32,
    inner_proto: u8,
) -> Result<(), Verdict> {
    let h: *mut u8 = ptr_at::<[u8; UDP_GUE_HLEN]>(ctx, ETH_HLEN + ip_hlen)
        .ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))? as *mut u8;
    // SAFETY: the 12 bytes were checked above.
    unsafe {
        (h as *mut u16).write_unaligned(sport.to_be());
        (h.add(2) as *mut u16).write_unaligned(dport_be);
        (h.add(UDP_LEN) as *mut u16).write_unaligned((udp_len as u16).to_be());
        (h.add(UDP_CSUM) as *mut u16).write_unaligned(0);
        (h.add(UDP_HLEN) as *mut u32).write_unaligned(u32::from_ne_bytes([0, inner_proto, 0, 0]));
    }
    Ok(())
}

// Inlined: the arguments are the header's fields, not a call's registers.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn write_ipv4(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    src_be: u32,
    inner_proto: u8,
    outer_len: u16,
    df: u16,
    id: u16,
) -> Result<(), Verdict> {
    let ip: *mut [u16; 10] =
        ptr_at(ctx, ETH_HLEN).ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))?;
    let src = u32::from_be(src_be);
    let dst = u32::from_be(to.real.addr[0]);
    let mut w: [u16; 10] = [
        0x4500 | pkt.tos as u16,
        outer_len,
        id,
        df,
        ((OWN_TTL as u16) << 8) | inner_proto as u16,
        0,
        (src >> 16) as u16,
        src as u16,
        (dst >> 16) as u16,
        dst as u16,
    ];
    w[5] = csum::ipv4_header(&w);
    let mut wire = [0u16; 10];
    let mut i = 0;
    while i < 10 {
        wire[i] = w[i].to_be();
        i += 1;
    }
    // SAFETY: bounds-checked above.
    unsafe { ip.write_unaligned(wire) };
    Ok(())
}

#[inline(always)]
fn write_ipv6(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    src: &[u32; 4],
    inner_proto: u8,
    flow_label: u32,
    payload_len: u16,
) -> Result<(), Verdict> {
    let ip: *mut u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, ETH_HLEN)
        .ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))? as *mut u8;
    let word0 = (6u32 << 28) | ((pkt.tos as u32) << 20) | flow_label;
    // SAFETY: every write is inside the 40 bytes checked above.
    unsafe {
        (ip as *mut u32).write_unaligned(word0.to_be());
        (ip.add(IP6_PAYLOAD_LEN) as *mut u16).write_unaligned(payload_len.to_be());
        *ip.add(IP6_NEXTHDR) = inner_proto;
        *ip.add(IP6_HOPLIMIT) = OWN_TTL;
        ptr::store_addr(ip.add(IP6_SADDR), src);
        ptr::store_addr(ip.add(IP6_DADDR), &to.real.addr);
    }
    Ok(())
}
