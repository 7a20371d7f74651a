//! Stage `parse`: Ethernet -> IPv4 | IPv6 (extension headers walked, bounded) -> TCP/UDP/SCTP
//! ports (and SCTP's first chunk). Header lengths come from the packet.

use aya_ebpf::programs::XdpContext;
use lb_common::{
    CONN_S_SCTP_NONE, FAMILY_V4, FAMILY_V6, FlowKey, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP,
    PROTO_TCP, PROTO_UDP, SCTP_CHUNK_HLEN, SCTP_CID_ABORT, SCTP_CID_COOKIE_ACK,
    SCTP_CID_COOKIE_ECHO, SCTP_EV_ABORT, SCTP_HLEN, TCP_DIR_INPUT, TCP_DIR_INPUT_ONLY, reason,
    sctp_event, sctp_next_state,
};

use crate::{
    csum,
    headers::{
        ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE, IP_DADDR, IP_FRAG_OFF, IP_ID, IP_MF, IP_OFFSET,
        IP_PROTO, IP_SADDR, IP_TOS, IP_TOT_LEN, IP6_DADDR, IP6_NEXTHDR, IP6_PAYLOAD_LEN, IP6_SADDR,
        IPV4_HLEN_MAX, IPV4_HLEN_MIN, IPV6_HLEN, NEXTHDR_AUTH, NEXTHDR_DEST, NEXTHDR_FRAGMENT,
        NEXTHDR_HOP, NEXTHDR_ROUTING, TCP_FLAGS, TCP_HLEN_MIN, UDP_HLEN,
    },
    ptr::ptr_at,
    verdict::Verdict,
};

/// At most this many extension headers before the transport header (bounded loop).
const MAX_EXT_HDRS: usize = 6;

/// A whole datagram.
pub const FRAG_NONE: u8 = 0;
/// The first fragment of a datagram (offset 0, more to come): it carries the ports.
pub const FRAG_FIRST: u8 = 1;
/// A later fragment: no transport header; the flow's ports are 0 and `l4_off` is where its
/// payload starts.
pub const FRAG_LATER: u8 = 2;

/// The fields of a packet the later stages need, all taken from the wire.
pub struct Packet {
    /// Offset of the TCP/UDP header (after the IP header and its options); read it with
    /// [`Packet::l4`]. The IP header is at [`ETH_HLEN`] (VLAN tags are taken out first).
    l4_off: u16,
    /// The IP datagram's length from its header (what ipvsadm's byte counters count).
    pub ip_len: u16,
    /// IPv4 TOS or IPv6 traffic class (copied into a tunnel's outer header).
    pub tos: u8,
    /// TCP flags (0 for UDP, SCTP and ICMP).
    pub tcp_flags: u8,
    /// SCTP: the first chunk's type (0 for the others).
    pub chunk: u8,
    /// SCTP: IPVS's event of the packet (`lb_common::SCTP_EV_*`; 0 for the others).
    pub sctp_event: u8,
    /// SCTP: the state a new association starts in from this packet, by IPVS's input table
    /// (`nat`) and its input-only one (`dr`, `tun`).
    pub sctp_first: u8,
    pub sctp_first_noout: u8,
    /// [`FRAG_NONE`], [`FRAG_FIRST`] or [`FRAG_LATER`].
    pub frag: u8,
    /// The IP identification of a fragment, as it lies in the packet (IPv4: 16 bits).
    pub frag_id: u32,
    /// The 5-tuple, in network byte order, as the connection table keys it.
    pub flow: FlowKey,
}

/// The largest transport offset `parse` accepts (and the mask [`Packet::l4`] applies).
const MAX_L4_OFF: usize = 0x7ff;

impl Packet {
    /// The transport header's offset. The mask changes nothing (`parse` refuses larger
    /// offsets); it is for the verifier, which cannot know the bounds of a value read back
    /// from a map (the packet lives in the scratch map).
    #[inline(always)]
    pub fn l4(&self) -> usize {
        self.l4_off as usize & MAX_L4_OFF
    }
}

/// The Ethernet header's type field (network order on the wire, returned in host order).
#[inline(always)]
pub fn eth_proto(ctx: &XdpContext) -> Result<u16, Verdict> {
    let p: *const u16 = ptr_at(ctx, ETH_TYPE).ok_or(Verdict::pass(reason::PASS_SHORT_ETH))?;
    // SAFETY: ptr_at checked the two bytes are inside the packet.
    Ok(u16::from_be(unsafe { p.read_unaligned() }))
}

/// The fields of an IPv4 header the programs use.
pub struct Ipv4Fields {
    /// Header length in bytes (IHL x 4).
    pub hlen: usize,
    /// Total length of the datagram, host order.
    pub tot_len: u16,
    /// Flags and fragment offset, host order.
    pub frag: u16,
    /// Identification, as it lies in the packet.
    pub id: u16,
    pub proto: u8,
    pub tos: u8,
    /// Network byte order.
    pub saddr: u32,
    /// Network byte order.
    pub daddr: u32,
}

/// IPv4 header at `off`, after checking the version, IHL >= 5, that both the header
/// (options included) and the announced datagram fit in the packet, and the header checksum.
#[inline(always)]
pub fn ipv4_header(ctx: &XdpContext, off: usize) -> Result<Ipv4Fields, Verdict> {
    let ip = ipv4_fields(ctx, off)?;
    ipv4_checksum(ctx, off, ip.hlen)?;
    Ok(ip)
}

/// [`ipv4_header`] but the checksum.
#[inline(always)]
fn ipv4_fields(ctx: &XdpContext, off: usize) -> Result<Ipv4Fields, Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    // The fixed 20 bytes are checked first and every field is read from them: the verifier
    // only trusts constant-offset reads after a constant-size check, and LLVM drops a later
    // constant check that the variable-length check below would imply.
    let h: *const u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, off).ok_or(bad)? as *const u8;
    // SAFETY: all reads below are inside the 20 bytes checked above.
    let (vihl, tos, tot_len, id, frag, proto, saddr, daddr) = unsafe {
        (
            *h,
            *h.add(IP_TOS),
            u16::from_be((h.add(IP_TOT_LEN) as *const u16).read_unaligned()),
            (h.add(IP_ID) as *const u16).read_unaligned(),
            u16::from_be((h.add(IP_FRAG_OFF) as *const u16).read_unaligned()),
            *h.add(IP_PROTO),
            (h.add(IP_SADDR) as *const u32).read_unaligned(),
            (h.add(IP_DADDR) as *const u32).read_unaligned(),
        )
    };
    if vihl >> 4 != 4 {
        return Err(bad);
    }
    let hlen = ((vihl & 0x0f) as usize) * 4;
    if hlen < IPV4_HLEN_MIN {
        return Err(bad);
    }
    // Options, if any, must be in the packet too (hlen <= 60 from the mask above).
    ptr_at::<u8>(ctx, off + hlen - 1).ok_or(bad)?;
    if (tot_len as usize) < hlen || off + tot_len as usize > ctx.data_end() - ctx.data() {
        return Err(bad);
    }
    Ok(Ipv4Fields {
        hlen,
        tot_len,
        frag,
        id,
        proto,
        tos,
        saddr,
        daddr,
    })
}

/// The header checksum (RFC 791) of the IPv4 header at `off`, `hlen` bytes long (checked to
/// be in the packet): forwarding a corrupt header unchanged (dr, tun) would hand the real
/// server a packet its stack drops anyway; the host stack gets it instead and counts it.
#[inline(always)]
fn ipv4_checksum(ctx: &XdpContext, off: usize, hlen: usize) -> Result<(), Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    // The same constant-size check `ipv4_fields` made, for the verifier (it does not carry
    // a pointer's range across the two functions' values).
    let h: *const u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, off).ok_or(bad)? as *const u8;
    if header_sum(ctx, off, hlen, h).ok_or(bad)? != 0xffff {
        return Err(Verdict::pass(reason::PASS_BAD_IP_CHECKSUM));
    }
    Ok(())
}

/// One's-complement sum of an IPv4 header: the fixed 20 bytes from the already checked
/// pointer `h`, then the options (rare) four bytes at a time. Every option word is checked
/// on its own and a failed check ends the walk: a walk that went on past a failed check
/// would double the verifier's paths at each word.
#[inline(always)]
fn header_sum(ctx: &XdpContext, off: usize, hlen: usize, h: *const u8) -> Option<u16> {
    let mut sum: u32 = 0;
    let w = h as *const u16;
    let mut i = 0;
    while i < IPV4_HLEN_MIN / 2 {
        // SAFETY: inside the 20 bytes the caller checked.
        sum += unsafe { w.add(i).read_unaligned() } as u32;
        i += 1;
    }
    let mut o = IPV4_HLEN_MIN;
    // IHL <= 15: at most 40 bytes of options, a whole number of 32-bit words.
    while o < IPV4_HLEN_MAX {
        if o >= hlen {
            break;
        }
        let p = ptr_at::<[u16; 2]>(ctx, off + o)?;
        // SAFETY: checked just above.
        let v = unsafe { p.read_unaligned() };
        sum += v[0] as u32 + v[1] as u32;
        o += 4;
    }
    Some(csum::fold(sum))
}

/// Parses an IPv4 or IPv6 TCP or UDP packet into `out` (which lives in a map: each field is
/// stored as soon as it is read, so that nothing waits in registers, or spilled on the
/// stack, for the whole parse).
///
/// `ours(src, dst)` is the address filter: a TCP, UDP or SCTP packet it rejects stops
/// (`pass_not_vip`) as soon as its addresses and protocol are known: for IPv4 right after
/// the header's fixed fields, before its checksum, the transport header and any store into
/// `out`; for IPv6 after the extension headers, before the transport header. The host's
/// own traffic pays for little else (ICMP goes on: `lb_icmp` looks at errors about any
/// flow).
#[inline(always)]
pub fn parse(
    ctx: &XdpContext,
    out: &mut Packet,
    ours: impl Fn(&[u32; 4], &[u32; 4]) -> bool,
) -> Result<(), Verdict> {
    match eth_proto(ctx)? {
        ETH_P_IP => parse_v4(ctx, ETH_HLEN, out, ours),
        ETH_P_IPV6 => parse_v6(ctx, ETH_HLEN, out, ours),
        _ => Err(Verdict::pass(reason::PASS_NOT_IP)),
    }
}

#[inline(always)]
fn parse_v4(
    ctx: &XdpContext,
    l3_off: usize,
    out: &mut Packet,
    ours: impl Fn(&[u32; 4], &[u32; 4]) -> bool,
) -> Result<(), Verdict> {
    let ip = ipv4_fields(ctx, l3_off)?;
    if ip.proto != PROTO_TCP
        && ip.proto != PROTO_UDP
        && ip.proto != PROTO_SCTP
        && ip.proto != PROTO_ICMP
    {
        return Err(Verdict::pass(reason::PASS_NOT_L4));
    }
    if ip.proto != PROTO_ICMP && !ours(&[ip.saddr, 0, 0, 0], &[ip.daddr, 0, 0, 0]) {
        return Err(Verdict::pass(reason::PASS_NOT_VIP));
    }
    ipv4_checksum(ctx, l3_off, ip.hlen)?;
    let frag = if ip.frag & (IP_MF | IP_OFFSET) == 0 {
        FRAG_NONE
    } else if ip.frag & IP_OFFSET == 0 {
        FRAG_FIRST
    } else {
        FRAG_LATER
    };
    // Fragmented ICMP (large echo requests) is the host's to reassemble; so is fragmented
    // SCTP, which fragments its messages itself (RFC 9260 6.9): a CRC32c over a datagram lb
    // sees only a part of cannot be updated.
    if frag != FRAG_NONE && (ip.proto == PROTO_ICMP || ip.proto == PROTO_SCTP) {
        return Err(Verdict::pass(reason::PASS_FRAGMENT));
    }
    out.flow.src = [ip.saddr, 0, 0, 0];
    out.flow.dst = [ip.daddr, 0, 0, 0];
    out.flow.proto = ip.proto;
    out.flow.family = FAMILY_V4;
    out.flow._pad = [0; 2];
    // At most 14 + 60.
    out.l4_off = (l3_off + ip.hlen) as u16;
    out.ip_len = ip.tot_len;
    out.tos = ip.tos;
    out.frag = frag;
    out.frag_id = ip.id as u32;
    transport(ctx, out, l3_off + ip.tot_len as usize)
}

/// The ports (0 for a later fragment and ICMP) and TCP flags, into `out`.
#[inline(always)]
fn transport(ctx: &XdpContext, out: &mut Packet, ip_end: usize) -> Result<(), Verdict> {
    let (ports, tcp_flags) = if out.frag == FRAG_LATER {
        (0, 0)
    } else {
        ports(ctx, out.flow.proto, out.l4(), ip_end)?
    };
    // The two halves of the word as they lie in memory (this host is little-endian).
    out.flow.sport = ports as u16;
    out.flow.dport = (ports >> 16) as u16;
    out.tcp_flags = tcp_flags;
    let (chunk, event) = if out.flow.proto == PROTO_SCTP {
        sctp_first_chunk(ctx, out.l4(), ip_end)
    } else {
        (0, 0)
    };
    out.chunk = chunk;
    out.sctp_event = event;
    out.sctp_first = sctp_next_state(TCP_DIR_INPUT, event, CONN_S_SCTP_NONE);
    out.sctp_first_noout = sctp_next_state(TCP_DIR_INPUT_ONLY, event, CONN_S_SCTP_NONE);
    Ok(())
}

/// The fields of an IPv6 header the programs use.
pub struct Ipv6Fields {
    /// 40 + payload length: the whole datagram.
    pub tot_len: u16,
    pub next: u8,
    pub tclass: u8,
    /// Network byte order.
    pub saddr: [u32; 4],
    /// Network byte order.
    pub daddr: [u32; 4],
}

/// IPv6 header at `off`: the fixed 40 bytes checked, and the datagram it announces checked to
/// fit in the packet.
#[inline(always)]
pub fn ipv6_header(ctx: &XdpContext, off: usize) -> Result<Ipv6Fields, Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    let h: *const u8 = ptr_at::<[u8; IPV6_HLEN]>(ctx, off).ok_or(bad)? as *const u8;
    // SAFETY: all reads are inside the 40 bytes checked above.
    let (vtc, payload, next, saddr, daddr) = unsafe {
        (
            u16::from_be((h as *const u16).read_unaligned()),
            u16::from_be((h.add(IP6_PAYLOAD_LEN) as *const u16).read_unaligned()),
            *h.add(IP6_NEXTHDR),
            (h.add(IP6_SADDR) as *const [u32; 4]).read_unaligned(),
            (h.add(IP6_DADDR) as *const [u32; 4]).read_unaligned(),
        )
    };
    if vtc >> 12 != 6 {
        return Err(bad);
    }
    let tot_len = payload as usize + IPV6_HLEN;
    if tot_len > u16::MAX as usize || off + tot_len > ctx.data_end() - ctx.data() {
        return Err(bad);
    }
    Ok(Ipv6Fields {
        tot_len: tot_len as u16,
        next,
        tclass: (vtc >> 4) as u8,
        saddr,
        daddr,
    })
}

#[inline(always)]
fn parse_v6(
    ctx: &XdpContext,
    l3_off: usize,
    out: &mut Packet,
    ours: impl Fn(&[u32; 4], &[u32; 4]) -> bool,
) -> Result<(), Verdict> {
    let ip = ipv6_header(ctx, l3_off)?;
    out.flow.src = ip.saddr;
    out.flow.dst = ip.daddr;
    out.flow.family = FAMILY_V6;
    out.flow._pad = [0; 2];
    out.ip_len = ip.tot_len;
    out.tos = ip.tclass;
    let ext = skip_ext_headers(ctx, ip.next, l3_off + IPV6_HLEN)?;
    let proto = ext.proto;
    if proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_SCTP && proto != PROTO_ICMPV6 {
        return Err(Verdict::pass(reason::PASS_NOT_L4));
    }
    if proto != PROTO_ICMPV6 && !ours(&out.flow.src, &out.flow.dst) {
        return Err(Verdict::pass(reason::PASS_NOT_VIP));
    }
    // As for IPv4 (see `parse_v4`).
    if ext.frag != FRAG_NONE && (proto == PROTO_ICMPV6 || proto == PROTO_SCTP) {
        return Err(Verdict::pass(reason::PASS_FRAGMENT));
    }
    if ext.l4_off > MAX_L4_OFF {
        return Err(Verdict::pass(reason::PASS_IPV6_EXT_LIMIT));
    }
    out.flow.proto = proto;
    out.l4_off = ext.l4_off as u16;
    out.frag = ext.frag;
    out.frag_id = ext.frag_id;
    transport(ctx, out, l3_off + ip.tot_len as usize)
}

/// Where IPv6's extension headers end.
struct ExtEnd {
    /// The transport protocol.
    proto: u8,
    /// [`FRAG_NONE`], [`FRAG_FIRST`] or [`FRAG_LATER`].
    frag: u8,
    /// Offset of the transport header (of the fragment's payload for [`FRAG_LATER`]).
    l4_off: usize,
    /// The fragment header's identification, as it lies in the packet.
    frag_id: u32,
}

/// Walks IPv6 extension headers (RFC 8200 4) up to the transport header. A later fragment
/// ends the walk at its fragment header (what follows is payload); an atomic fragment
/// (offset 0, no more fragments) is a whole datagram.
#[inline(always)]
fn skip_ext_headers(ctx: &XdpContext, first: u8, start: usize) -> Result<ExtEnd, Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    let mut next = first;
    let mut off = start;
    let mut frag = FRAG_NONE;
    let mut frag_id = 0u32;
    let mut i = 0;
    while i < MAX_EXT_HDRS {
        let len = match next {
            NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST | NEXTHDR_AUTH | NEXTHDR_FRAGMENT => {
                // Only for the verifier: keeps the variable offset small and known.
                if off > 1024 {
                    return Err(bad);
                }
                let h: *const [u8; 8] = ptr_at(ctx, off).ok_or(bad)?;
                // SAFETY: in bounds (checked above).
                let h = unsafe { h.read_unaligned() };
                if next == NEXTHDR_FRAGMENT {
                    // Offset (13 bits) and M flag: anything but 0/0 is a real fragment.
                    let offset_m = u16::from_be_bytes([h[2], h[3]]);
                    if offset_m & 0xfff8 != 0 {
                        return Ok(ExtEnd {
                            proto: h[0],
                            frag: FRAG_LATER,
                            l4_off: off + 8,
                            frag_id: u32::from_ne_bytes([h[4], h[5], h[6], h[7]]),
                        });
                    }
                    if offset_m & 1 != 0 {
                        frag = FRAG_FIRST;
                        frag_id = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
                    }
                    8
                } else if next == NEXTHDR_AUTH {
                    (h[1] as usize + 2) * 4
                } else {
                    (h[1] as usize + 1) * 8
                }
            }
            _ => {
                return Ok(ExtEnd {
                    proto: next,
                    frag,
                    l4_off: off,
                    frag_id,
                });
            }
        };
        // SAFETY: in bounds (checked in the arm above).
        next = unsafe { *ptr_at::<u8>(ctx, off).ok_or(bad)? };
        off += len;
        i += 1;
    }
    Err(Verdict::pass(reason::PASS_IPV6_EXT_LIMIT))
}

/// The TCP, UDP or SCTP ports at `l4_off` (source port in the low half of the word as it lies
/// in memory; 0 for ICMP) and the TCP flags (0 otherwise). The whole minimal header (TCP 20
/// bytes, UDP and ICMP 8, SCTP's common header and a chunk header, 16: RFC 9260 3 requires
/// a chunk) must be in the packet and inside the datagram (`ip_end`): a segment cut inside
/// it is malformed, and the host stack gets it.
#[inline(always)]
fn ports(ctx: &XdpContext, proto: u8, l4_off: usize, ip_end: usize) -> Result<(u32, u8), Verdict> {
    let short = Verdict::pass(reason::PASS_SHORT_L4);
    let (p, hlen): (*const u8, usize) = if proto == PROTO_TCP {
        (
            ptr_at::<[u8; TCP_HLEN_MIN]>(ctx, l4_off).ok_or(short)? as *const u8,
            TCP_HLEN_MIN,
        )
    } else if proto == PROTO_SCTP {
        (
            ptr_at::<[u8; SCTP_HLEN + SCTP_CHUNK_HLEN]>(ctx, l4_off).ok_or(short)? as *const u8,
            SCTP_HLEN + SCTP_CHUNK_HLEN,
        )
    } else {
        (
            ptr_at::<[u8; UDP_HLEN]>(ctx, l4_off).ok_or(short)? as *const u8,
            UDP_HLEN,
        )
    };
    if l4_off + hlen > ip_end {
        return Err(short);
    }
    if proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_SCTP {
        return Ok((0, 0));
    }
    // SAFETY: in bounds (checked above); the TCP flags are a byte of its 20-byte header.
    // Both ports travel as one u32 (as they lie in memory): a [u16; 2] in the result lands
    // in a 2-byte-aligned stack slot that LLVM, told misaligned access is fine (build.rs),
    // then moves 4 bytes at a time, and the verifier refuses misaligned stack access.
    unsafe {
        let flags = if proto == PROTO_TCP {
            *p.add(TCP_FLAGS)
        } else {
            0
        };
        Ok(((p as *const u32).read_unaligned(), flags))
    }
}

/// The largest offset of a second chunk `sctp_first_chunk` looks at: past it (a COOKIE ECHO longer
/// than any frame lb is given), an ABORT behind it is not seen.
const MAX_SECOND_CHUNK: usize = 0x1fff;

/// The packet's first chunk type and IPVS's event for it (`set_sctp_state`): the first chunk's
/// event, except that an ABORT bundled right after a COOKIE ECHO or COOKIE ACK is the
/// packet's event. `parse` checked that the common header and a chunk header lie in the
/// packet and the datagram (which ends at `ip_end`).
#[inline(always)]
fn sctp_first_chunk(ctx: &XdpContext, l4: usize, ip_end: usize) -> (u8, u8) {
    let Some(h) = ptr_at::<[u8; SCTP_CHUNK_HLEN]>(ctx, l4 + SCTP_HLEN) else {
        return (0, 0);
    };
    // SAFETY: checked just above.
    let h = unsafe { h.read_unaligned() };
    let chunk = h[0];
    let mut event = sctp_event(chunk);
    if chunk == SCTP_CID_COOKIE_ECHO || chunk == SCTP_CID_COOKIE_ACK {
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        if len >= SCTP_CHUNK_HLEN {
            // Chunks are padded to four bytes (RFC 9260 3.2).
            let next = l4 + SCTP_HLEN + ((len + 3) & !3);
            // The bound is for the verifier (a variable packet offset must have one).
            if next <= MAX_SECOND_CHUNK
                && next + SCTP_CHUNK_HLEN <= ip_end
                // The whole chunk header, not its first byte: a one-byte check compiles to a
                // comparison the verifier draws no range from.
                && let Some(t) = ptr_at::<[u8; SCTP_CHUNK_HLEN]>(ctx, next)
                // SAFETY: checked just before.
                && unsafe { (*t)[0] } == SCTP_CID_ABORT
            {
                event = SCTP_EV_ABORT;
            }
        }
    }
    (chunk, event)
}
