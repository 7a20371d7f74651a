//! The frames `lb` must emit, built here field by field from the RFCs, independently of the
//! code under test: tunnels (IPIP, IPv6 in IPv6 and across families, GUE, GRE), direct
//! routing, and a router's view of a forwarded (`nat`) packet. One copy of each.

use std::net::{IpAddr, Ipv4Addr};

use lb_common::FlowKey;

use crate::{
    consts::{DIRECTOR, DIRECTOR6, real_mac},
    flow::entropy,
    packet::{
        ETH_P_IP, ETH_P_IPV6, IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP, Ipv4, Ipv6,
        csum, eth, eth_ip, ethertype_of,
    },
};

/// TTL / hop limit of the outer header of a tunnel.
pub const TUN_TTL: u8 = 64;

/// The encapsulation of a `tun` real server (its `tun_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// IPIP, IPv6 in IPv6, or across families (RFC 2003, RFC 2473, RFC 4213).
    Ip,
    /// UDP to this port, then a GUE variant-0 header (draft-ietf-intarea-gue).
    Gue(u16),
    /// GRE, version 0, no options (RFC 2784).
    Gre,
}

/// The frame `lb` sends to `real` (from the interface whose MAC is `me`) for `inner` (an IP
/// packet) tunnelled with `encap`; `flow` is the inner packet's flow, the entropy of the GUE
/// source port and the IPv6 flow label.
///
/// The outer header takes the inner one's TOS / traffic class (RFC 2983). Outer IPv4 copies
/// an IPv4 inner header's DF bit (RFC 2003 3.1), and when it may be fragmented the inner
/// identification (RFC 6864); an IPv6 inner packet is never fragmented on the way, so its
/// outer IPv4 header has DF (RFC 4213 3.2.1).
pub fn tunnelled(
    me: [u8; 6],
    inner: &[u8],
    real: impl Into<IpAddr>,
    encap: Encap,
    flow: &FlowKey,
) -> Vec<u8> {
    let real = real.into();
    let inner_v4 = inner[0] >> 4 == 4;
    let inner_proto = if inner_v4 { IPPROTO_IPIP } else { IPPROTO_IPV6 };
    let tos = if inner_v4 {
        inner[1]
    } else {
        (u16::from_be_bytes([inner[0], inner[1]]) >> 4) as u8
    };
    let (proto, payload) = match encap {
        Encap::Ip => (inner_proto, inner.to_vec()),
        Encap::Gue(port) => {
            let sport = 49152 + (entropy(flow) % 16384) as u16;
            let mut u = Vec::with_capacity(12 + inner.len());
            u.extend_from_slice(&sport.to_be_bytes());
            u.extend_from_slice(&port.to_be_bytes());
            u.extend_from_slice(&((8 + 4 + inner.len()) as u16).to_be_bytes());
            // No UDP checksum: RFC 768 for IPv4, RFC 6935 / 6936 for tunnels over IPv6.
            u.extend_from_slice(&[0, 0]);
            u.extend_from_slice(&[0, inner_proto, 0, 0]);
            u.extend_from_slice(inner);
            (IPPROTO_UDP, u)
        }
        Encap::Gre => {
            let mut g = vec![0, 0];
            g.extend_from_slice(&ethertype_of(inner).to_be_bytes());
            g.extend_from_slice(inner);
            (IPPROTO_GRE, g)
        }
    };
    match real {
        IpAddr::V4(real) => {
            let mut ip = Ipv4::new(DIRECTOR, real, proto);
            ip.tos = tos;
            ip.ttl = TUN_TTL;
            let df = if inner_v4 { inner[6] & 0x40 } else { 0x40 };
            ip.frag = (df as u16) << 8;
            // May be fragmented: the inner identification plus the flow's hash (RFC 6864
            // 4.1: unique between the flows that share the outer addresses).
            ip.id = if df == 0 {
                u16::from_be_bytes([inner[4], inner[5]]).wrapping_add(id_mix4(inner))
            } else {
                0
            };
            eth(real_mac(real), me, ETH_P_IP, &ip.build(&payload))
        }
        IpAddr::V6(real) => {
            let mut ip = Ipv6::new(DIRECTOR6, real, proto);
            ip.tclass = tos;
            ip.hop_limit = TUN_TTL;
            // Entropy for ECMP on the way (RFC 6438).
            ip.flow_label = entropy(flow) & 0xfffff;
            eth(real_mac(real), me, ETH_P_IPV6, &ip.build(&payload))
        }
    }
}

/// What `lb` adds to the inner identification of an IPv4 packet that may be fragmented to
/// make the outer one (RFC 6864 4.1): a Fibonacci hash of the addresses and ports (TCP and
/// UDP; 0 for a later fragment and anything else), each word as it lies in memory on a
/// little-endian host.
fn id_mix4(inner: &[u8]) -> u16 {
    let ihl = (inner[0] & 0x0f) as usize * 4;
    let offset = u16::from_be_bytes([inner[6], inner[7]]) & 0x1fff;
    let proto = inner[9];
    let word = |o: usize| u32::from_le_bytes([inner[o], inner[o + 1], inner[o + 2], inner[o + 3]]);
    let ports = if offset == 0 && (proto == 6 || proto == 17) {
        word(ihl)
    } else {
        0
    };
    let h = word(12) ^ word(16).rotate_left(16) ^ ports;
    (h.wrapping_mul(0x9e37_79b1) >> 16) as u16
}

/// [`tunnelled`] in IPIP to an IPv4 real server (no entropy in the outer header).
pub fn ipip(me: [u8; 6], inner: &[u8], real: Ipv4Addr) -> Vec<u8> {
    let unused = crate::flow::flow_key(DIRECTOR, real, 0, 0, 0);
    tunnelled(me, inner, real, Encap::Ip, &unused)
}

/// Direct routing: `frame` with the real server's MAC as destination and `me` as source,
/// nothing else changed.
pub fn direct(frame: &[u8], me: [u8; 6], real: impl Into<IpAddr>) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[..6].copy_from_slice(&real_mac(real));
    f[6..12].copy_from_slice(&me);
    f
}

/// What a router emits for an IPv4 packet of header `ip` (its addresses as the packet leaves)
/// around `l4`: TTL one less, the header checksum computed from scratch, to `dmac` from
/// `smac`.
pub fn routed4(ip: &Ipv4, dmac: [u8; 6], smac: [u8; 6], l4: &[u8]) -> Vec<u8> {
    let mut ip = ip.clone();
    ip.ttl -= 1;
    eth_ip(dmac, smac, &ip.build(l4))
}

/// [`routed4`] for IPv6: the hop limit one less.
pub fn routed6(ip: &Ipv6, dmac: [u8; 6], smac: [u8; 6], l4: &[u8]) -> Vec<u8> {
    let mut ip = ip.clone();
    ip.hop_limit -= 1;
    eth_ip(dmac, smac, &ip.build(l4))
}

/// The Ethernet frame of `ip` as the director sends it back to the client it came from: to
/// `client_mac` from `me`.
pub fn answer(me: [u8; 6], client_mac: [u8; 6], ip: &[u8]) -> Vec<u8> {
    eth_ip(client_mac, me, ip)
}

/// An IPv4 header's checksum recomputed after its bytes changed (for expected quotes inside
/// ICMP errors).
pub fn fix_ipv4_csum(header: &mut [u8]) {
    let hlen = ((header[0] & 0x0f) as usize) * 4;
    header[10..12].copy_from_slice(&[0, 0]);
    let c = csum(&header[..hlen]);
    header[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::{
        flow::flow_key,
        packet::{IPPROTO_TCP, TCP_SYN, ipv4_csum_ok, tcp},
    };

    const ME: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn inner4(tos: u8, frag: u16) -> Vec<u8> {
        let (s, d) = (Ipv4Addr::new(198, 18, 5, 7), Ipv4Addr::new(198, 18, 1, 100));
        let mut ip = Ipv4::new(s, d, IPPROTO_TCP);
        ip.tos = tos;
        ip.frag = frag;
        ip.build(&tcp(s, d, 1000, 80, TCP_SYN, b""))
    }

    #[test]
    fn ipip_copies_tos_and_df_and_the_id_mixed_with_the_flow_only_when_it_may_fragment() {
        let real = Ipv4Addr::new(198, 18, 0, 11);
        // The hash of 198.18.5.7 -> 198.18.1.100, ports 1000 -> 80, worked out by hand from
        // RFC 6864's rule as lb applies it: addresses and ports as little-endian words.
        let (s, d, p) = (
            u32::from_le_bytes([198, 18, 5, 7]),
            u32::from_le_bytes([198, 18, 1, 100]),
            u32::from_le_bytes([0x03, 0xe8, 0, 80]),
        );
        let mix = ((s ^ d.rotate_left(16) ^ p).wrapping_mul(0x9e37_79b1) >> 16) as u16;
        assert_eq!(mix, id_mix4(&inner4(0, 0)));
        let mixed = 0x1234u16.wrapping_add(mix).to_be_bytes();
        for (frag, id) in [(0x4000u16, [0, 0]), (0, mixed)] {
            let inner = inner4(0x10, frag);
            let f = ipip(ME, &inner, real);
            assert_eq!(&f[..12], &[2, 0xaa, 198, 18, 0, 11, 2, 0, 0, 0, 0, 1]);
            assert_eq!(&f[12..14], &ETH_P_IP.to_be_bytes());
            let o = &f[14..34];
            assert_eq!((o[0], o[1]), (0x45, 0x10), "version, IHL 5, TOS copied");
            assert_eq!(u16::from_be_bytes([o[2], o[3]]) as usize, 20 + inner.len());
            assert_eq!(
                &o[4..6],
                &id,
                "the inner id, mixed with the flow, only without DF"
            );
            assert_eq!(u16::from_be_bytes([o[6], o[7]]), frag & 0x4000, "DF copied");
            assert_eq!((o[8], o[9]), (TUN_TTL, IPPROTO_IPIP));
            assert_eq!(
                (&o[12..16], &o[16..20]),
                (&DIRECTOR.octets()[..], &real.octets()[..])
            );
            assert!(ipv4_csum_ok(o));
            assert_eq!(&f[34..], &inner[..], "the inner packet whole");
        }
    }

    #[test]
    fn an_ipv6_outer_header_carries_the_traffic_class_and_the_flows_entropy() {
        let real = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x11);
        let inner = inner4(0x28, 0x4000);
        let flow = flow_key(
            Ipv4Addr::new(198, 18, 5, 7),
            Ipv4Addr::new(198, 18, 1, 100),
            1000,
            80,
            IPPROTO_TCP,
        );
        let f = tunnelled(ME, &inner, real, Encap::Ip, &flow);
        assert_eq!(&f[12..14], &ETH_P_IPV6.to_be_bytes());
        let o = &f[14..54];
        let w0 = u32::from_be_bytes(o[..4].try_into().unwrap());
        assert_eq!(w0, (6 << 28) | (0x28 << 20) | (entropy(&flow) & 0xfffff));
        assert_eq!(u16::from_be_bytes([o[4], o[5]]) as usize, inner.len());
        assert_eq!((o[6], o[7]), (IPPROTO_IPIP, TUN_TTL));
        assert_eq!(&o[8..24], &DIRECTOR6.octets());
        assert_eq!(&o[24..40], &real.octets());
        assert_eq!(&f[54..], &inner[..]);
    }

    #[test]
    fn gue_and_gre_headers_name_the_inner_protocol() {
        let real = Ipv4Addr::new(198, 18, 0, 11);
        let inner = inner4(0, 0x4000);
        let flow = flow_key(DIRECTOR, real, 1, 2, IPPROTO_TCP);
        let gue = tunnelled(ME, &inner, real, Encap::Gue(6080), &flow);
        assert_eq!(gue[14 + 9], IPPROTO_UDP);
        let u = &gue[34..46];
        let sport = u16::from_be_bytes([u[0], u[1]]);
        assert_eq!(sport, 49152 + (entropy(&flow) % 16384) as u16);
        assert_eq!(u16::from_be_bytes([u[2], u[3]]), 6080);
        assert_eq!(u16::from_be_bytes([u[4], u[5]]) as usize, 12 + inner.len());
        assert_eq!(
            &u[6..],
            &[0, 0, 0, IPPROTO_IPIP, 0, 0],
            "no checksum; GUE variant 0"
        );
        assert_eq!(&gue[46..], &inner[..]);
        let gre = tunnelled(ME, &inner, real, Encap::Gre, &flow);
        assert_eq!(gre[14 + 9], IPPROTO_GRE);
        assert_eq!(
            &gre[34..38],
            &[0, 0, 0x08, 0x00],
            "version 0, the inner Ethernet type"
        );
        assert_eq!(&gre[38..], &inner[..]);
    }
}
