//! The answer to a packet too big once encapsulated (IPVS's `ip_vs_tunnel_xmit` sends the
//! same): ICMP "fragmentation needed" (IPv4 with DF, RFC 1191) or ICMPv6 "packet too big"
//! (RFC 8201) with the MTU that fits, from the VIP to the client, so that it lowers its MSS.
//! Built in place of the packet and sent back with XDP_TX.

use aya_ebpf::{
    helpers::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use lb_common::{FAMILY_V6, reason};

use crate::{
    csum,
    headers::{
        ETH_ALEN, ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE, ICMP_CODE, ICMP_CSUM,
        ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HLEN, ICMP_NEXT_MTU, ICMP_QUOTE_DATA, ICMP_REST,
        ICMPV6_PKT_TOOBIG, IP_CSUM, IP_DADDR, IP_DF, IP_FRAG_OFF, IP_ID, IP_SADDR, IP_TOT_LEN,
        IP_TTL, IP6_DADDR, IP6_HOPLIMIT, IP6_NEXTHDR, IP6_PAYLOAD_LEN, IP6_SADDR, IPV4_HLEN_MIN,
        IPV6_HLEN, IPV6_MIN_MTU, OWN_TTL,
    },
    parse::Packet,
    ptr::ptr_at,
    verdict::Verdict,
};

/// How much of the invoking IPv6 packet a "packet too big" quotes: its header and the start
/// of what follows (RFC 4443 asks for as much as fits in 1280 bytes; the client needs the
/// header and the ports to find the connection).
const QUOTE6: usize = 64;

/// The packet is too big for the path once encapsulated: answer the client with "fragmentation
/// needed" (IPv4 with DF) or "packet too big" (IPv6) carrying `mtu`, from the VIP, quoting the
/// packet's IP header and the first 8 bytes after it (IPv4) or its first 64 bytes (IPv6). An
/// IPv4 packet without DF is dropped: XDP cannot fragment.
#[inline(always)]
pub fn reply(ctx: &XdpContext, pkt: &Packet, mtu: u32) -> Result<Verdict, Verdict> {
    let args = TooBig {
        l4_off: pkt.l4() as u32,
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
    l4_off: u32,
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
    // The IP header is at ETH_HLEN (VLAN tags are out); the mask on the transport offset
    // changes nothing (parse bounds it) and is for the verifier, which reads it from memory.
    let (l3_off, l4_off, mtu) = (ETH_HLEN, args.l4_off as usize & 0x7ff, args.mtu);
    let too_big = Verdict::drop(reason::DROP_TOO_BIG);
    let eth: *const [u8; 2 * ETH_ALEN] = ptr_at(ctx, 0).ok_or(too_big)?;
    // SAFETY: in bounds.
    let macs = unsafe { eth.read_unaligned() };
    let v6 = args.family == FAMILY_V6 as u32;
    let (hdrs, quote) = if v6 {
        (IPV6_HLEN + ICMP_HLEN, QUOTE6)
    } else {
        let w: *const [u16; 4] = ptr_at(ctx, l3_off).ok_or(too_big)?;
        // SAFETY: in bounds. The flags are the 16-bit word at IP_FRAG_OFF.
        if u16::from_be(unsafe { w.read_unaligned() }[IP_FRAG_OFF / 2]) & IP_DF == 0 {
            return Err(too_big);
        }
        // Packets with IP options (rare) are dropped rather than quoted: a fixed 28-byte
        // quote keeps this path simple enough for LLVM's BPF stack budget.
        if l4_off - l3_off != IPV4_HLEN_MIN {
            return Err(too_big);
        }
        (IPV4_HLEN_MIN + ICMP_HLEN, IPV4_HLEN_MIN + ICMP_QUOTE_DATA)
    };
    // Make room for the new IP and ICMP headers before the invoking packet's IP header, then
    // cut the invoking packet after the part we quote.
    let grow = (ETH_HLEN + hdrs) as i32 - l3_off as i32;
    // SAFETY: moves ctx->data within the headroom.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -grow) } != 0 {
        return Err(Verdict::drop(reason::DROP_NO_HEADROOM));
    }
    let want = (ETH_HLEN + hdrs + quote) as i32;
    let have = (ctx.data_end() - ctx.data()) as i32;
    // SAFETY: shrinks the frame to bytes it already has (the packet was too big, so it is
    // longer than what we keep).
    if have > want && unsafe { bpf_xdp_adjust_tail(ctx.ctx, want - have) } != 0 {
        return Err(too_big);
    }
    // From the VIP (the packet's destination) to the client (its source).
    let (src, dst) = (&args.dst, &args.src);
    let mut hdr = [0u8; ETH_HLEN];
    hdr[..ETH_ALEN].copy_from_slice(&macs[ETH_ALEN..]);
    hdr[ETH_ALEN..ETH_TYPE].copy_from_slice(&macs[..ETH_ALEN]);
    if v6 {
        hdr[ETH_TYPE..].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
        write_too_big6(ctx, &hdr, src, dst, mtu.max(IPV6_MIN_MTU))?;
    } else {
        hdr[ETH_TYPE..].copy_from_slice(&ETH_P_IP.to_be_bytes());
        write_frag_needed4(ctx, &hdr, src[0], dst[0], mtu, quote)?;
    }
    Ok(Verdict::tx(reason::ICMP_TOO_BIG_SENT))
}

#[inline(always)]
fn write_frag_needed4(
    ctx: &XdpContext,
    eth: &[u8; ETH_HLEN],
    src: u32,
    dst: u32,
    mtu: u32,
    quote: usize,
) -> Result<(), Verdict> {
    let bad = Verdict::drop(reason::DROP_TOO_BIG);
    let head: *mut [u8; ETH_HLEN + IPV4_HLEN_MIN + ICMP_HLEN] = ptr_at(ctx, 0).ok_or(bad)?;
    // The ICMP checksum covers the ICMP header and the quote; the quote is read from the
    // packet a 16-bit word at a time, at most 68 bytes (a 60-byte header and 8 more).
    let icmp_off = ETH_HLEN + IPV4_HLEN_MIN;
    let mtu16 = (mtu.min(u16::MAX as u32) as u16).to_be_bytes();
    let mut sum: u32 = ((ICMP_DEST_UNREACH as u32) << 8 | ICMP_FRAG_NEEDED as u32)
        + u16::from_be_bytes(mtu16) as u32;
    // The quote: the invoking IPv4 header (no options) and 8 bytes.
    const QUOTE4_WORDS: usize = (IPV4_HLEN_MIN + ICMP_QUOTE_DATA) / 2;
    let q = ptr_at::<[u16; QUOTE4_WORDS]>(ctx, icmp_off + ICMP_HLEN).ok_or(bad)? as *const u16;
    let mut i = 0;
    while i < QUOTE4_WORDS {
        // SAFETY: inside the 28 bytes checked above. Volatile: see write_too_big6.
        let w = unsafe { core::ptr::read_volatile(q.add(i) as *const [u8; 2]) };
        sum += u16::from_be_bytes(w) as u32;
        i += 1;
    }
    let icmp_csum = !csum::fold(sum);
    let tot = (IPV4_HLEN_MIN + ICMP_HLEN + quote) as u16;
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
        (icmp.add(ICMP_CSUM) as *mut u16).write_unaligned(icmp_csum.to_be());
        (icmp.add(ICMP_REST) as *mut u16).write_unaligned(0);
        (icmp.add(ICMP_NEXT_MTU) as *mut [u8; 2]).write_unaligned(mtu16);
    }
    Ok(())
}

#[inline(always)]
fn write_too_big6(
    ctx: &XdpContext,
    eth: &[u8; ETH_HLEN],
    src: &[u32; 4],
    dst: &[u32; 4],
    mtu: u32,
) -> Result<(), Verdict> {
    let bad = Verdict::drop(reason::DROP_TOO_BIG);
    let icmp_off = ETH_HLEN + IPV6_HLEN;
    let head: *mut u8 =
        ptr_at::<[u8; ETH_HLEN + IPV6_HLEN + ICMP_HLEN + QUOTE6]>(ctx, 0).ok_or(bad)? as *mut u8;
    let plen = (ICMP_HLEN + QUOTE6) as u32;
    // Pseudo-header (RFC 8200 8.1): addresses, upper-layer length, next header.
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 4 {
        sum += (src[i] & 0xffff) + (src[i] >> 16) + (dst[i] & 0xffff) + (dst[i] >> 16);
        i += 1;
    }
    // The address words above are summed as they lie in memory (network order); so is
    // everything below, each 16-bit value taken in the same byte order.
    let ne = |v: u16| u16::from_ne_bytes(v.to_be_bytes()) as u32;
    sum += ne((plen >> 16) as u16) + ne(plen as u16) + ne(lb_common::PROTO_ICMPV6 as u16);
    sum += ne((ICMPV6_PKT_TOOBIG as u16) << 8);
    sum += ne((mtu >> 16) as u16) + ne(mtu as u16);
    let quote = head.wrapping_add(icmp_off + ICMP_HLEN) as *const u16;
    let mut k = 0;
    while k < QUOTE6 / 2 {
        // SAFETY: the quote lies inside the range checked above. Volatile: otherwise LLVM
        // hoists all 64 byte loads ahead of the sum and spills them past the 512-byte stack.
        sum += unsafe { core::ptr::read_volatile(quote.add(k) as *const [u8; 2]) }
            .iter()
            .fold(0u16, |a, b| a << 8 | *b as u16)
            .to_be() as u32;
        k += 1;
    }
    let c = !csum::fold(sum);
    // SAFETY: every write is inside the range checked above.
    unsafe {
        (head as *mut [u8; ETH_HLEN]).write_unaligned(*eth);
        let ip = head.add(ETH_HLEN);
        (ip as *mut u32).write_unaligned((6u32 << 28).to_be());
        (ip.add(IP6_PAYLOAD_LEN) as *mut u16).write_unaligned((plen as u16).to_be());
        *ip.add(IP6_NEXTHDR) = lb_common::PROTO_ICMPV6;
        *ip.add(IP6_HOPLIMIT) = OWN_TTL;
        (ip.add(IP6_SADDR) as *mut [u32; 4]).write_unaligned(*src);
        (ip.add(IP6_DADDR) as *mut [u32; 4]).write_unaligned(*dst);
        let icmp = head.add(icmp_off);
        *icmp = ICMPV6_PKT_TOOBIG;
        *icmp.add(ICMP_CODE) = 0;
        (icmp.add(ICMP_CSUM) as *mut u16).write_unaligned(c);
        (icmp.add(ICMP_REST) as *mut u32).write_unaligned(mtu.to_be());
    }
    Ok(())
}
