//! Flow keys as `lb` keys its maps (lb-common's `FlowKey`), built from addresses and ports, and
//! the entropy `lb` puts into tunnels (GUE source port, IPv6 flow label) from them.

use std::net::IpAddr;

use lb_common::{FAMILY_V4, FAMILY_V6, FlowKey, hash};

/// An address as `lb`'s maps hold it: four words in network order (IPv4 in the first) and the
/// family.
pub fn addr_words(a: impl Into<IpAddr>) -> ([u32; 4], u8) {
    match a.into() {
        IpAddr::V4(a) => ([u32::from_ne_bytes(a.octets()), 0, 0, 0], FAMILY_V4),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_ne_bytes(o[i..i + 4].try_into().unwrap());
            ([w(0), w(4), w(8), w(12)], FAMILY_V6)
        }
    }
}

/// The flow key of a packet from `src:sport` to `dst:dport` of IP protocol `proto`.
pub fn flow_key(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    proto: u8,
) -> FlowKey {
    let (src, family) = addr_words(src);
    let (dst, _) = addr_words(dst);
    FlowKey {
        src,
        dst,
        sport: sport.to_be(),
        dport: dport.to_be(),
        proto,
        family,
        _pad: [0; 2],
    }
}

/// The flow's hash without seed: the entropy of a tunnel's GUE source port and IPv6 flow
/// label.
pub fn entropy(flow: &FlowKey) -> u32 {
    hash::flow_hash(flow, 0)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn addresses_are_words_in_network_order() {
        let (w, f) = addr_words(Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(
            (w[0].to_ne_bytes(), &w[1..], f),
            ([1, 2, 3, 4], &[0u32; 3][..], FAMILY_V4)
        );
        let (w, f) = addr_words(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0x11));
        assert_eq!(w[0].to_ne_bytes(), [0x20, 0x01, 0, 2]);
        assert_eq!(w[3].to_ne_bytes(), [0, 0, 0, 0x11]);
        assert_eq!(f, FAMILY_V6);
        let k = flow_key(
            Ipv4Addr::new(1, 2, 3, 4),
            Ipv4Addr::new(5, 6, 7, 8),
            1000,
            80,
            6,
        );
        assert_eq!(
            (k.sport.to_ne_bytes(), k.dport.to_ne_bytes()),
            ([0x03, 0xe8], [0, 80])
        );
    }
}
