//! A small packet builder and checker for tests, written independently of the code under
//! test: headers are laid out byte by byte here and checksums computed by RFC 1071 directly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_ARP: u16 = 0x0806;
/// 802.1Q and 802.1ad tag protocol identifiers.
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;

/// IP protocol numbers.
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_IPIP: u8 = 4;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_IPV6: u8 = 41;
pub const IPPROTO_GRE: u8 = 47;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;

/// SCTP chunk types (RFC 9260 3.2).
pub const SCTP_DATA: u8 = 0;
pub const SCTP_INIT: u8 = 1;
pub const SCTP_INIT_ACK: u8 = 2;
pub const SCTP_SACK: u8 = 3;
pub const SCTP_HEARTBEAT: u8 = 4;
pub const SCTP_ABORT: u8 = 6;
pub const SCTP_SHUTDOWN: u8 = 7;
pub const SCTP_SHUTDOWN_ACK: u8 = 8;
pub const SCTP_ERROR: u8 = 9;
pub const SCTP_COOKIE_ECHO: u8 = 10;
pub const SCTP_COOKIE_ACK: u8 = 11;
pub const SCTP_SHUTDOWN_COMPLETE: u8 = 14;

/// TCP flags (RFC 9293 3.1).
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// RFC 1071 Internet checksum of `data`.
pub fn csum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += w as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// The Ethernet type of an IP packet, by its version nibble.
pub fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        ETH_P_IPV6
    } else {
        ETH_P_IP
    }
}

/// An Ethernet frame around an IP packet (IPv4 or IPv6, by its version).
pub fn eth_ip(dst: [u8; 6], src: [u8; 6], ip: &[u8]) -> Vec<u8> {
    eth(dst, src, ethertype_of(ip), ip)
}

/// `frame` with VLAN tags (TPID, VID) inserted after its MAC addresses.
pub fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&frame[12..]);
    f
}

/// An IP packet with default header fields ([`Ipv4::new`], [`Ipv6::new`]), of the family of
/// its addresses, around `l4`.
pub fn ip(src: impl Into<IpAddr>, dst: impl Into<IpAddr>, proto: u8, l4: &[u8]) -> Vec<u8> {
    match (src.into(), dst.into()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4::new(s, d, proto).build(l4),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6::new(s, d, proto).build(l4),
        _ => panic!("an IP header with mixed families"),
    }
}

/// An IP packet (default header fields) carrying a TCP segment.
pub fn tcp_ip(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst) = (src.into(), dst.into());
    ip(
        src,
        dst,
        IPPROTO_TCP,
        &tcp(src, dst, sport, dport, flags, payload),
    )
}

/// An IP packet (default header fields) carrying a UDP datagram.
pub fn udp_ip(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst) = (src.into(), dst.into());
    ip(src, dst, IPPROTO_UDP, &udp(src, dst, sport, dport, payload))
}

/// IPv4 header fields a test may want to vary.
#[derive(Clone, Debug)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub tos: u8,
    pub id: u16,
    /// The 16-bit flags + fragment offset field.
    pub frag: u16,
    pub ttl: u8,
    /// Option bytes (a multiple of 4).
    pub options: Vec<u8>,
}

impl Ipv4 {
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Self {
        Self {
            src,
            dst,
            proto,
            tos: 0,
            id: 0x1234,
            frag: 0x4000,
            ttl: 64,
            options: Vec::new(),
        }
    }

    /// The header followed by `payload`, with a correct checksum.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        assert_eq!(self.options.len() % 4, 0);
        let hlen = 20 + self.options.len();
        let mut h = vec![0u8; hlen];
        h[0] = 0x40 | (hlen / 4) as u8;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&((hlen + payload.len()) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&self.id.to_be_bytes());
        h[6..8].copy_from_slice(&self.frag.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.proto;
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        h[20..].copy_from_slice(&self.options);
        let c = csum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

/// IPv6 header fields a test may want to vary.
#[derive(Clone, Debug)]
pub struct Ipv6 {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The upper-layer protocol (after any extension headers).
    pub next: u8,
    pub tclass: u8,
    pub flow_label: u32,
    pub hop_limit: u8,
    /// Extension headers as (type, bytes); each one's first byte (next header) is filled in.
    pub ext: Vec<(u8, Vec<u8>)>,
}

impl Ipv6 {
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, next: u8) -> Self {
        Self {
            src,
            dst,
            next,
            tclass: 0,
            flow_label: 0,
            hop_limit: 64,
            ext: Vec::new(),
        }
    }

    /// The header, the extension headers and `payload`.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut exts = Vec::new();
        for (i, (_, bytes)) in self.ext.iter().enumerate() {
            let mut b = bytes.clone();
            b[0] = self.ext.get(i + 1).map(|e| e.0).unwrap_or(self.next);
            exts.extend_from_slice(&b);
        }
        let first = self.ext.first().map(|e| e.0).unwrap_or(self.next);
        let mut h = vec![0u8; 40];
        let w0 = (6u32 << 28) | ((self.tclass as u32) << 20) | (self.flow_label & 0xfffff);
        h[0..4].copy_from_slice(&w0.to_be_bytes());
        h[4..6].copy_from_slice(&((exts.len() + payload.len()) as u16).to_be_bytes());
        h[6] = first;
        h[7] = self.hop_limit;
        h[8..24].copy_from_slice(&self.src.octets());
        h[24..40].copy_from_slice(&self.dst.octets());
        h.extend_from_slice(&exts);
        h.extend_from_slice(payload);
        h
    }
}

pub fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> u16 {
    let mut p = Vec::with_capacity(40 + seg.len());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.push(0);
            p.push(proto);
            p.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            // RFC 8200 8.1.
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(seg.len() as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("pseudo-header with mixed families"),
    }
    p.extend_from_slice(seg);
    csum(&p)
}

/// A TCP segment (20-byte header, given flags) with a correct checksum.
pub fn tcp(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst) = (src.into(), dst.into());
    let mut s = vec![0u8; 20];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    s[4..8].copy_from_slice(&1000u32.to_be_bytes());
    s[12] = 5 << 4;
    s[13] = flags;
    s[14..16].copy_from_slice(&64240u16.to_be_bytes());
    s.extend_from_slice(payload);
    let c = pseudo_sum(src, dst, 6, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// A UDP datagram with a correct checksum.
pub fn udp(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst) = (src.into(), dst.into());
    let mut s = vec![0u8; 8];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    s[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    let c = pseudo_sum(src, dst, 17, &s);
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

/// One SCTP chunk: type, flags, length (header and `value`, before padding), `value`, padded
/// to four bytes (RFC 9260 3.2).
pub fn sctp_chunk(ty: u8, flags: u8, value: &[u8]) -> Vec<u8> {
    let mut c = vec![ty, flags];
    c.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    c.extend_from_slice(value);
    while c.len() % 4 != 0 {
        c.push(0);
    }
    c
}

/// An INIT chunk (RFC 9260 3.3.2) with initiate tag `tag` and no parameters.
pub fn sctp_init(tag: u32) -> Vec<u8> {
    let mut v = tag.to_be_bytes().to_vec();
    v.extend_from_slice(&65536u32.to_be_bytes()); // a_rwnd
    v.extend_from_slice(&10u16.to_be_bytes()); // outbound streams
    v.extend_from_slice(&10u16.to_be_bytes()); // inbound streams
    v.extend_from_slice(&1u32.to_be_bytes()); // initial TSN
    sctp_chunk(SCTP_INIT, 0, &v)
}

/// SCTP's CRC32c (RFC 9260 appendix A) of a packet, its checksum field taken as zero,
/// computed by the `crc` crate (not by lb's code).
pub fn sctp_crc32c(seg: &[u8]) -> u32 {
    let mut s = seg.to_vec();
    s[8..12].fill(0);
    crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&s)
}

/// An SCTP packet: the common header (ports, verification tag `vtag`) and `chunks`, with
/// its CRC32c in the checksum field (least significant byte first, as RFC 9260's appendix
/// and Linux's `sctp_compute_cksum` place it).
pub fn sctp(sport: u16, dport: u16, vtag: u32, chunks: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8; 12];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    s[4..8].copy_from_slice(&vtag.to_be_bytes());
    s.extend_from_slice(chunks);
    let c = sctp_crc32c(&s);
    s[8..12].copy_from_slice(&c.to_le_bytes());
    s
}

/// True when an SCTP packet's CRC32c verifies.
pub fn sctp_crc_ok(seg: &[u8]) -> bool {
    seg.len() >= 12 && seg[8..12] == sctp_crc32c(seg).to_le_bytes()
}

/// An IP packet (default header fields) carrying an SCTP packet.
pub fn sctp_ip(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    vtag: u32,
    chunks: &[u8],
) -> Vec<u8> {
    ip(src, dst, IPPROTO_SCTP, &sctp(sport, dport, vtag, chunks))
}

/// True when an IPv4 header's checksum verifies.
pub fn ipv4_csum_ok(ip: &[u8]) -> bool {
    let hlen = ((ip[0] & 0x0f) as usize) * 4;
    csum(&ip[..hlen]) == 0
}

/// Where an IPv6 packet's upper-layer header starts and which protocol it is: the
/// hop-by-hop, routing and destination-options headers walked (RFC 8200 4); None for a
/// fragment header or a packet cut inside its extension headers.
pub fn ipv6_upper_layer(ip: &[u8]) -> Option<(usize, u8)> {
    let (mut next, mut off) = (ip[6], 40);
    while matches!(next, 0 | 43 | 60) {
        let h = ip.get(off..off + 2)?;
        next = h[0];
        off += (h[1] as usize + 1) * 8;
    }
    (next != 44 && off <= ip.len()).then_some((off, next))
}

/// True when the TCP or UDP checksum of an IPv4 or IPv6 packet verifies (IPv4 options and
/// IPv6 extension headers skipped).
pub fn l4_csum_ok(ip: &[u8]) -> bool {
    if ip[0] >> 4 == 6 {
        let tot = 40 + u16::from_be_bytes([ip[4], ip[5]]) as usize;
        let a = |o: usize| {
            IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(&ip[o..o + 16]).unwrap(),
            ))
        };
        let Some((off, proto)) = ipv6_upper_layer(&ip[..tot]) else {
            return false;
        };
        return pseudo_sum(a(8), a(24), proto, &ip[off..tot]) == 0;
    }
    let hlen = ((ip[0] & 0x0f) as usize) * 4;
    let tot = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    pseudo_sum(src.into(), dst.into(), ip[9], &ip[hlen..tot]) == 0
}

/// Hex dump with offsets, for failure messages.
pub fn hex(b: &[u8]) -> String {
    b.chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let h: Vec<String> = c.iter().map(|x| format!("{x:02x}")).collect();
            format!("{:04x}  {}", i * 16, h.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An ICMP (IPv4) message: type, code, the 4 bytes after the checksum, then `body`; with a
/// correct checksum.
pub fn icmp4(ty: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMPv6 message with the pseudo-header checksum of RFC 4443 2.3.
pub fn icmp6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ty: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = pseudo_sum(src.into(), dst.into(), 58, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_published_examples() {
        // RFC 1071 section 3's example: the one's complement sum of these bytes is ddf2.
        assert_eq!(
            csum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        // A captured IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, 115 bytes, DF, TTL 64,
        // id 0) whose checksum field is b861.
        let mut ip = Ipv4::new(
            Ipv4Addr::new(192, 168, 0, 1),
            Ipv4Addr::new(192, 168, 0, 199),
            IPPROTO_UDP,
        );
        ip.id = 0;
        let h = ip.build(&[0u8; 95]);
        assert_eq!(
            &h[..20],
            &[
                0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7
            ]
        );
        assert!(ipv4_csum_ok(&h));
    }

    #[test]
    fn transport_checksums_verify_behind_options_and_extension_headers() {
        let (s4, d4) = (Ipv4Addr::new(198, 18, 5, 7), Ipv4Addr::new(198, 18, 1, 100));
        let mut ip = Ipv4::new(s4, d4, IPPROTO_TCP);
        ip.options = vec![1; 8];
        let mut p = ip.build(&tcp(s4, d4, 1000, 80, TCP_SYN, b"x"));
        assert!(l4_csum_ok(&p));
        let last = p.len() - 1;
        p[last] ^= 1;
        assert!(!l4_csum_ok(&p), "a changed byte is seen");
        let (s6, d6) = (
            Ipv6Addr::new(0x2001, 2, 0, 5, 0, 0, 0, 7),
            Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 0x100),
        );
        let mut ip = Ipv6::new(s6, d6, IPPROTO_UDP);
        ip.ext = vec![(0, vec![0, 0, 1, 4, 0, 0, 0, 0]), (60, vec![0; 16])];
        ip.ext[1].1[1] = 1; // 16 bytes: length field 1
        let p = ip.build(&udp(s6, d6, 53, 5353, b"answer"));
        assert_eq!(ipv6_upper_layer(&p), Some((40 + 8 + 16, IPPROTO_UDP)));
        assert!(l4_csum_ok(&p));
        // A fragment header stops the walk: its transport checksum spans other packets.
        let mut ip = Ipv6::new(s6, d6, IPPROTO_UDP);
        ip.ext = vec![(44, vec![0, 0, 0, 8, 0, 0, 0, 1])];
        assert_eq!(ipv6_upper_layer(&ip.build(b"12345678")), None);
    }

    #[test]
    fn vlan_tags_go_after_the_mac_addresses() {
        let f = eth([1; 6], [2; 6], ETH_P_IP, &[0x45]);
        let t = tagged(&f, &[(ETH_P_8021AD, 10), (ETH_P_8021Q, 20)]);
        assert_eq!(&t[..12], &f[..12]);
        assert_eq!(&t[12..20], &[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20]);
        assert_eq!(&t[20..], &f[12..]);
    }
}
