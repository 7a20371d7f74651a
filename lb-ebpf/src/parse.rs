//! Stage `parse`: Ethernet -> IPv4 -> TCP/UDP ports. Header lengths come from the packet.

use aya_ebpf::programs::XdpContext;
use lb_common::{FAMILY_V4, FlowKey, PROTO_TCP, PROTO_UDP, reason};

use crate::{ptr::ptr_at, verdict::Verdict};

pub const ETH_HLEN: usize = 14;
pub const ETH_P_IP: u16 = 0x0800;
pub const IPV4_HLEN_MIN: usize = 20;
pub const IPPROTO_IPIP: u8 = 4;
/// IPv4 "more fragments" flag and fragment-offset mask, in host order of the 16-bit field.
const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;

/// The fields of a packet the later stages need, all taken from the wire.
pub struct Packet {
    /// Offset of the IP header (after the Ethernet header).
    pub l3_off: usize,
    /// IPv4 header length in bytes (IHL x 4).
    pub l3_len: usize,
    /// The IP datagram's length from its header (what ipvsadm's byte counters count).
    pub ip_len: u16,
    /// The 5-tuple, in network byte order, as the connection table keys it.
    pub flow: FlowKey,
}

/// The Ethernet header's type field (network order on the wire, returned in host order).
#[inline(always)]
pub fn eth_proto(ctx: &XdpContext) -> Result<u16, Verdict> {
    let p: *const u16 = ptr_at(ctx, 12).ok_or(Verdict::pass(reason::PASS_SHORT_ETH))?;
    // SAFETY: ptr_at checked the two bytes are inside the packet.
    Ok(u16::from_be(unsafe { p.read_unaligned() }))
}

/// IPv4 header at `off`: returns (header length, total length, protocol) after checking the
/// version, IHL >= 5, and that both the header and the announced datagram fit in the packet.
#[inline(always)]
pub fn ipv4_header(ctx: &XdpContext, off: usize) -> Result<(usize, u16, u8), Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    let vihl: *const u8 = ptr_at(ctx, off).ok_or(bad)?;
    // SAFETY: in bounds (checked above).
    let vihl = unsafe { *vihl };
    if vihl >> 4 != 4 {
        return Err(bad);
    }
    let hlen = ((vihl & 0x0f) as usize) * 4;
    if hlen < IPV4_HLEN_MIN {
        return Err(bad);
    }
    // The whole header, options included, must be in the packet: checked byte-wise at its
    // last byte, since hlen varies (the verifier sees hlen <= 60 from the mask above).
    ptr_at::<u8>(ctx, off + hlen - 1).ok_or(bad)?;
    let tot: *const u16 = ptr_at(ctx, off + 2).ok_or(bad)?;
    // SAFETY: in bounds.
    let tot_len = u16::from_be(unsafe { tot.read_unaligned() });
    if (tot_len as usize) < hlen || off + tot_len as usize > ctx.data_end() - ctx.data() {
        return Err(bad);
    }
    let proto: *const u8 = ptr_at(ctx, off + 9).ok_or(bad)?;
    // SAFETY: in bounds.
    Ok((hlen, tot_len, unsafe { *proto }))
}

/// Parses an IPv4 TCP or UDP packet into [`Packet`].
#[inline(always)]
pub fn parse(ctx: &XdpContext) -> Result<Packet, Verdict> {
    if eth_proto(ctx)? != ETH_P_IP {
        return Err(Verdict::pass(reason::PASS_NOT_IP));
    }
    let l3_off = ETH_HLEN;
    let (l3_len, ip_len, proto) = ipv4_header(ctx, l3_off)?;
    if proto != PROTO_TCP && proto != PROTO_UDP {
        return Err(Verdict::pass(reason::PASS_NOT_L4));
    }
    let frag: *const u16 =
        ptr_at(ctx, l3_off + 6).ok_or(Verdict::pass(reason::PASS_BAD_IP_HEADER))?;
    // SAFETY: in bounds.
    let frag = u16::from_be(unsafe { frag.read_unaligned() });
    if frag & (IP_MF | IP_OFFSET) != 0 {
        return Err(Verdict::pass(reason::PASS_FRAGMENT));
    }
    let addrs: *const [u32; 2] =
        ptr_at(ctx, l3_off + 12).ok_or(Verdict::pass(reason::PASS_BAD_IP_HEADER))?;
    let l4_off = l3_off + l3_len;
    // Both TCP and UDP start with the two ports; the rest of their header is not needed here.
    let ports: *const [u16; 2] = ptr_at(ctx, l4_off).ok_or(Verdict::pass(reason::PASS_SHORT_L4))?;
    // SAFETY: both in bounds (checked above).
    let (addrs, ports) = unsafe { (addrs.read_unaligned(), ports.read_unaligned()) };
    Ok(Packet {
        l3_off,
        l3_len,
        ip_len,
        flow: FlowKey {
            src: [addrs[0], 0, 0, 0],
            dst: [addrs[1], 0, 0, 0],
            sport: ports[0],
            dport: ports[1],
            proto,
            family: FAMILY_V4,
            _pad: [0; 2],
        },
    })
}
