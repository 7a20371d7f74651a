//! Stage `parse`: Ethernet -> IPv4 -> TCP/UDP ports. Header lengths come from the packet.

use aya_ebpf::programs::XdpContext;
use lb_common::{FAMILY_V4, FlowKey, PROTO_TCP, PROTO_UDP, reason};

use crate::{ptr::ptr_at, verdict::Verdict};

pub const ETH_HLEN: usize = 14;
pub const ETH_P_IP: u16 = 0x0800;
pub const IPV4_HLEN_MIN: usize = 20;
pub const IPPROTO_IPIP: u8 = 4;
pub const TCP_HLEN_MIN: usize = 20;
pub const UDP_HLEN: usize = 8;
/// IPv4 "more fragments" flag and fragment-offset mask, in host order of the 16-bit field.
const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;

/// The fields of a packet the later stages need, all taken from the wire.
pub struct Packet {
    /// Offset of the IP header (after the Ethernet header).
    pub l3_off: usize,
    /// Offset of the TCP/UDP header (after the IP header and its options).
    pub l4_off: usize,
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

/// The fields of an IPv4 header the programs use.
pub struct Ipv4Fields {
    /// Header length in bytes (IHL x 4).
    pub hlen: usize,
    /// Total length of the datagram, host order.
    pub tot_len: u16,
    /// Flags and fragment offset, host order.
    pub frag: u16,
    pub proto: u8,
    /// Network byte order.
    pub saddr: u32,
    /// Network byte order.
    pub daddr: u32,
}

/// IPv4 header at `off`, after checking the version, IHL >= 5, and that both the header
/// (options included) and the announced datagram fit in the packet.
#[inline(always)]
pub fn ipv4_header(ctx: &XdpContext, off: usize) -> Result<Ipv4Fields, Verdict> {
    let bad = Verdict::pass(reason::PASS_BAD_IP_HEADER);
    // The fixed 20 bytes are checked first and every field is read from them: the verifier
    // only trusts constant-offset reads after a constant-size check, and LLVM drops a later
    // constant check that the variable-length check below would imply.
    let h: *const u8 = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, off).ok_or(bad)? as *const u8;
    // SAFETY: all reads below are inside the 20 bytes checked above.
    let (vihl, tot_len, frag, proto, saddr, daddr) = unsafe {
        (
            *h,
            u16::from_be((h.add(2) as *const u16).read_unaligned()),
            u16::from_be((h.add(6) as *const u16).read_unaligned()),
            *h.add(9),
            (h.add(12) as *const u32).read_unaligned(),
            (h.add(16) as *const u32).read_unaligned(),
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
        proto,
        saddr,
        daddr,
    })
}

/// Parses an IPv4 TCP or UDP packet into [`Packet`].
#[inline(always)]
pub fn parse(ctx: &XdpContext) -> Result<Packet, Verdict> {
    if eth_proto(ctx)? != ETH_P_IP {
        return Err(Verdict::pass(reason::PASS_NOT_IP));
    }
    let l3_off = ETH_HLEN;
    let ip = ipv4_header(ctx, l3_off)?;
    if ip.proto != PROTO_TCP && ip.proto != PROTO_UDP {
        return Err(Verdict::pass(reason::PASS_NOT_L4));
    }
    if ip.frag & (IP_MF | IP_OFFSET) != 0 {
        return Err(Verdict::pass(reason::PASS_FRAGMENT));
    }
    // Both TCP and UDP start with the two ports. The whole minimal header must be there
    // (TCP 20 bytes, UDP 8): a segment cut inside it is malformed, and the host stack gets it.
    let l4_off = l3_off + ip.hlen;
    let short = Verdict::pass(reason::PASS_SHORT_L4);
    let ports: *const [u16; 2] = if ip.proto == PROTO_TCP {
        ptr_at::<[u8; TCP_HLEN_MIN]>(ctx, l4_off).ok_or(short)? as *const [u16; 2]
    } else {
        ptr_at::<[u8; UDP_HLEN]>(ctx, l4_off).ok_or(short)? as *const [u16; 2]
    };
    if l4_off
        + if ip.proto == PROTO_TCP {
            TCP_HLEN_MIN
        } else {
            UDP_HLEN
        }
        > l3_off + ip.tot_len as usize
    {
        return Err(short);
    }
    // SAFETY: in bounds (checked above).
    let ports = unsafe { ports.read_unaligned() };
    Ok(Packet {
        l3_off,
        l4_off,
        ip_len: ip.tot_len,
        flow: FlowKey {
            src: [ip.saddr, 0, 0, 0],
            dst: [ip.daddr, 0, 0, 0],
            sport: ports[0],
            dport: ports[1],
            proto: ip.proto,
            family: FAMILY_V4,
            _pad: [0; 2],
        },
    })
}
