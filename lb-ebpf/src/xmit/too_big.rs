//! The answer to a packet too big once encapsulated (IPVS's `ip_vs_tunnel_xmit` sends the
//! same): ICMP "fragmentation needed" (IPv4 with DF, RFC 1191) or ICMPv6 "packet too big"
//! (RFC 8201) with the MTU that fits, from the VIP to the client, so that it lowers its MSS.
//! Built in place of the packet and sent back with XDP_TX.

use aya_ebpf::{
    helpers::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use lb_common::{FAMILY_V6, reason};

use super::partial;
use crate::{
    csum,
    headers::{
        ETH_ALEN, ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE, ICMP_CODE, ICMP_CSUM,
        ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HLEN, ICMP_NEXT_MTU, ICMP_REST,
        ICMPV6_PKT_TOOBIG, IP_CSUM, IP_DADDR, IP_DF, IP_FRAG_OFF, IP_ID, IP_SADDR, IP_TOT_LEN,
        IP_TTL, IP6_DADDR, IP6_HOPLIMIT, IP6_NEXTHDR, IP6_PAYLOAD_LEN, IP6_SADDR, IPV4_HLEN_MIN,
        IPV6_HLEN, IPV6_MIN_MTU, OWN_TTL,
    },
    parse::Packet,
    ptr::ptr_at,
    verdict::Verdict,
};

/// How much of the invoking packet an IPv4 "fragmentation needed" quotes: as much as keeps
/// the ICMP datagram within 576 bytes (RFC 1812 4.3.2.3), from its IP header on.
const QUOTE4_MAX: usize = 576 - IPV4_HLEN_MIN - ICMP_HLEN;
/// The same for an ICMPv6 "packet too big": as much as keeps it within the minimum IPv6 MTU
/// (RFC 4443 2.4 (c)).
const QUOTE6_MAX: usize = IPV6_MIN_MTU as usize - IPV6_HLEN - ICMP_HLEN;

/// The packet is too big for the path once encapsulated: answer the client with "fragmentation
/// needed" (IPv4 with DF) or "packet too big" (IPv6) carrying `mtu`, from the VIP, quoting as
/// much of the packet as the RFCs ask (see [`QUOTE4_MAX`], [`QUOTE6_MAX`]). An IPv4 packet
/// without DF is not answered (the caller hands it to the kernel, or drops it).
#[inline(always)]
pub fn reply(ctx: &XdpContext, pkt: &Packet, mtu: u32) -> Result<Verdict, Verdict> {
    let args = TooBig {
        ip_len: pkt.ip_len as u32,
        mtu,
        family: pkt.flow.family as u32,
        src: pkt.flow.src,
        dst: pkt.flow.dst,
    };
    let v = too_big_outlined(ctx.ctx, &args);
    let v = Verdict {
        action: v as u32,
        reason: (v >> 32) as u32,
    };
    if v.reason == reason::ICMP_TOO_BIG_SENT {
        Ok(v)
    } else {
        Err(v)
    }
}

/// What [`too_big_outlined`] needs of the packet.
#[repr(C)]
struct TooBig {
    /// The invoking packet's length from its IP header on.
    ip_len: u32,
    mtu: u32,
    family: u32,
    src: [u32; 4],
    dst: [u32; 4],
}

/// A rare path kept out of line: a BPF-to-BPF call has its own stack frame, so its locals do
/// not add to `lb`'s (512 bytes in all). Returns the verdict as action | reason << 32.
#[inline(never)]
fn too_big_outlined(raw: *mut aya_ebpf::bindings::xdp_md, args: &TooBig) -> u64 {
    let ctx = XdpContext::new(raw);
    let v = match build_too_big(&ctx, args) {
        Ok(v) | Err(v) => v,
    };
    v.action as u64 | (v.reason as u64) << 32
}

#[inline(always)]
fn build_too_big(ctx: &XdpContext, args: &TooBig) -> Result<Verdict, Verdict> {
    // The IP header is at ETH_HLEN (VLAN tags are out).
    let (l3_off, mtu) = (ETH_HLEN, args.mtu);
    let too_big = Verdict::drop(reason::DROP_TOO_BIG);
    let eth: *const [u8; 2 * ETH_ALEN] = ptr_at(ctx, 0).ok_or(too_big)?;
    // SAFETY: in bounds.
    let macs = unsafe { eth.read_unaligned() };
    let v6 = args.family == FAMILY_V6 as u32;
    let (hdrs, max) = if v6 {
        (IPV6_HLEN + ICMP_HLEN, QUOTE6_MAX)
    } else {
        let w: *const [u16; 4] = ptr_at(ctx, l3_off).ok_or(too_big)?;
        // SAFETY: in bounds. The flags are the 16-bit word at IP_FRAG_OFF.
        if u16::from_be(unsafe { w.read_unaligned() }[IP_FRAG_OFF / 2]) & IP_DF == 0 {
            return Err(too_big);
        }
        (IPV4_HLEN_MIN + ICMP_HLEN, QUOTE4_MAX)
    };
    // The quote: the invoking packet from its IP header, at most `max` bytes. The mask
    // changes nothing (parse bounds the length by the frame's) and is for the verifier.
    let ip_len = args.ip_len as usize & 0xffff;
    let quote = if ip_len < max { ip_len } else { max };
    // Make room for the new IP and ICMP headers before the invoking packet's IP header, then
    // cut the invoking packet after the part we quote.
    let grow = (ETH_HLEN + hdrs) as i32 - l3_off as i32;
    // SAFETY: moves ctx->data within the headroom.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -grow) } != 0 {
        return Err(Verdict::drop(reason::DROP_NO_HEADROOM));
    }
    let want = (ETH_HLEN + hdrs + quote) as i32;
    let have = (ctx.data_end() - ctx.data()) as i32;
    if have < want {
        // Shorter than its IP header says: parse lets no such packet through.
        return Err(too_big);
    }
    // SAFETY: shrinks the frame to bytes it already has.
    if have > want && unsafe { bpf_xdp_adjust_tail(ctx.ctx, want - have) } != 0 {
        return Err(too_big);
    }
    // From the VIP (the packet's destination) to the client (its source).
    let (src, dst) = (&args.dst, &args.src);
    let mut hdr = [0u8; ETH_HLEN];
    hdr[..ETH_ALEN].copy_from_slice(&macs[ETH_ALEN..]);
    hdr[ETH_ALEN..ETH_TYPE].copy_from_slice(&macs[..ETH_ALEN]);
    let icmp_len = (ICMP_HLEN + quote) as u32;
    let (icmp_off, pseudo) = if v6 {
        hdr[ETH_TYPE..].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
        write_too_big6(ctx, &hdr, src, dst, mtu.max(IPV6_MIN_MTU), icmp_len)?;
        (ETH_HLEN + IPV6_HLEN, pseudo6(src, dst, icmp_len))
    } else {
        hdr[ETH_TYPE..].copy_from_slice(&ETH_P_IP.to_be_bytes());
        write_frag_needed4(ctx, &hdr, src[0], dst[0], mtu, icmp_len)?;
        (ETH_HLEN + IPV4_HLEN_MIN, 0)
    };
    // The ICMP checksum, over the ICMP header (its checksum field 0) and the quote, and for
    // ICMPv6 the pseudo-header: every word as it lies in memory, stored the same way.
    let sum = partial::sum(ctx, icmp_off as u32, icmp_len).ok_or(too_big)?;
    let c = !csum::add(csum::fold(sum), csum::fold(pseudo));
    let field: *mut u16 = ptr_at(ctx, icmp_off + ICMP_CSUM).ok_or(too_big)?;
    // SAFETY: bounds-checked above (after the last helper that moved the packet).
    unsafe { field.write_unaligned(c) };
    Ok(Verdict::tx(reason::ICMP_TOO_BIG_SENT))
}

/// The ICMPv6 pseudo-header's sum (RFC 8200 8.1: addresses, upper-layer length, next
/// header), each 16-bit value in memory's byte order.
#[inline(always)]
fn pseudo6(src: &[u32; 4], dst: &[u32; 4], len: u32) -> u32 {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 4 {
        sum += (src[i] & 0xffff) + (src[i] >> 16) + (dst[i] & 0xffff) + (dst[i] >> 16);
        i += 1;
    }
    let ne = |v: u16| u16::from_ne_bytes(v.to_be_bytes()) as u32;
    sum + ne((len >> 16) as u16) + ne(len as u16) + ne(lb_common::PROTO_ICMPV6 as u16)
}

/// The IPv4 and ICMP headers of a "fragmentation needed" of `icmp_len` bytes of ICMP (header
/// and quote), its ICMP checksum 0 (the caller sums it).
#[inline(always)]
fn write_frag_needed4(
    ctx: &XdpContext,
    eth: &[u8; ETH_HLEN],
    src: u32,
    dst: u32,
    mtu: u32,
    icmp_len: u32,
) -> Result<(), Verdict> {
    let bad = Verdict::drop(reason::DROP_TOO_BIG);
    let head: *mut [u8; ETH_HLEN + IPV4_HLEN_MIN + ICMP_HLEN] = ptr_at(ctx, 0).ok_or(bad)?;
    let icmp_off = ETH_HLEN + IPV4_HLEN_MIN;
    let mtu16 = (mtu.min(u16::MAX as u32) as u16).to_be_bytes();
    let tot = (IPV4_HLEN_MIN as u32 + icmp_len) as u16;
    let (sa, da) = (u32::from_be(src), u32::from_be(dst));
    let ttl_proto = ((OWN_TTL as u16) << 8) | lb_common::PROTO_ICMP as u16;
    let ip_sum = 0x4500u32
        + tot as u32
        + ttl_proto as u32
        + (sa >> 16)
        + (sa & 0xffff)
        + (da >> 16)
        + (da & 0xffff);
    let ip_csum = !csum::fold(ip_sum);
    let p = head as *mut u8;
    // SAFETY: every write is inside the 42 bytes checked above (after both adjustments).
    // Written in place, field by field, to keep this rare path's stack small.
    unsafe {
        (p as *mut [u8; ETH_HLEN]).write_unaligned(*eth);
        let ip = p.add(ETH_HLEN);
        (ip as *mut u16).write_unaligned(0x4500u16.to_be());
        (ip.add(IP_TOT_LEN) as *mut u16).write_unaligned(tot.to_be());
        // Identification, flags and fragment offset: 0.
        (ip.add(IP_ID) as *mut u32).write_unaligned(0);
        (ip.add(IP_TTL) as *mut u16).write_unaligned(ttl_proto.to_be());
        (ip.add(IP_CSUM) as *mut u16).write_unaligned(ip_csum.to_be());
        (ip.add(IP_SADDR) as *mut u32).write_unaligned(src);
        (ip.add(IP_DADDR) as *mut u32).write_unaligned(dst);
        let icmp = p.add(icmp_off);
        *icmp = ICMP_DEST_UNREACH;
        *icmp.add(ICMP_CODE) = ICMP_FRAG_NEEDED;
        (icmp.add(ICMP_CSUM) as *mut u16).write_unaligned(0);
        (icmp.add(ICMP_REST) as *mut u16).write_unaligned(0);
        (icmp.add(ICMP_NEXT_MTU) as *mut [u8; 2]).write_unaligned(mtu16);
    }
    Ok(())
}

/// The IPv6 and ICMPv6 headers of a "packet too big" of `icmp_len` bytes of ICMPv6, its
/// checksum 0 (the caller sums it).
#[inline(always)]
fn write_too_big6(
    ctx: &XdpContext,
    eth: &[u8; ETH_HLEN],
    src: &[u32; 4],
    dst: &[u32; 4],
    mtu: u32,
    icmp_len: u32,
) -> Result<(), Verdict> {
    let bad = Verdict::drop(reason::DROP_TOO_BIG);
    let icmp_off = ETH_HLEN + IPV6_HLEN;
    let head: *mut u8 =
        ptr_at::<[u8; ETH_HLEN + IPV6_HLEN + ICMP_HLEN]>(ctx, 0).ok_or(bad)? as *mut u8;
    // SAFETY: every write is inside the range checked above.
    unsafe {
        (head as *mut [u8; ETH_HLEN]).write_unaligned(*eth);
        let ip = head.add(ETH_HLEN);
        (ip as *mut u32).write_unaligned((6u32 << 28).to_be());
        (ip.add(IP6_PAYLOAD_LEN) as *mut u16).write_unaligned((icmp_len as u16).to_be());
        *ip.add(IP6_NEXTHDR) = lb_common::PROTO_ICMPV6;
        *ip.add(IP6_HOPLIMIT) = OWN_TTL;
        (ip.add(IP6_SADDR) as *mut [u32; 4]).write_unaligned(*src);
        (ip.add(IP6_DADDR) as *mut [u32; 4]).write_unaligned(*dst);
        let icmp = head.add(icmp_off);
        *icmp = ICMPV6_PKT_TOOBIG;
        *icmp.add(ICMP_CODE) = 0;
        (icmp.add(ICMP_CSUM) as *mut u16).write_unaligned(0);
        (icmp.add(ICMP_REST) as *mut u32).write_unaligned(mtu.to_be());
    }
    Ok(())
}
