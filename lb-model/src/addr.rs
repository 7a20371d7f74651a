//! Addresses as the maps store them: four `u32` words in network byte order (IPv4 in the
//! first) and a family (`FAMILY_V4`, `FAMILY_V6`). The one place that converts.

use std::net::IpAddr;

use lb_common::{FAMILY_V4, FAMILY_V6, VipKey};

use crate::protocol::Protocol;

/// An address as the maps store it: network byte order words, IPv4 in the first.
pub fn addr_words(a: IpAddr) -> ([u32; 4], u8) {
    match a {
        IpAddr::V4(a) => ([u32::from_ne_bytes(a.octets()), 0, 0, 0], FAMILY_V4),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_ne_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            ([w(0), w(4), w(8), w(12)], FAMILY_V6)
        }
    }
}

/// The address a map entry's words and family stand for (the inverse of [`addr_words`]).
pub fn addr_of(words: &[u32; 4], family: u8) -> IpAddr {
    if family == FAMILY_V6 {
        let mut o = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            o[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        }
        IpAddr::from(o)
    } else {
        IpAddr::from(words[0].to_ne_bytes())
    }
}

/// The services map's key of a virtual service.
pub fn vip_key(proto: Protocol, addr: IpAddr, port: u16) -> VipKey {
    let (addr, family) = addr_words(addr);
    VipKey {
        addr,
        port: port.to_be(),
        proto: proto.number(),
        family,
    }
}

/// The longest prefix of an address's family (32 or 128): "one address".
pub fn full_prefix(a: IpAddr) -> u8 {
    if a.is_ipv6() { 128 } else { 32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_back_from_map_words() {
        for a in ["198.18.0.11", "2001:2::11"] {
            let a: IpAddr = a.parse().unwrap();
            let (w, f) = addr_words(a);
            assert_eq!(addr_of(&w, f), a);
        }
    }

    #[test]
    fn vip_key_is_network_order() {
        let k = vip_key(Protocol::Tcp, "10.1.2.3".parse().unwrap(), 80);
        let bytes: [u8; 4] = k.addr[0].to_ne_bytes();
        assert_eq!(bytes, [10, 1, 2, 3]);
        assert_eq!(k.port.to_ne_bytes(), [0, 80]);
        assert_eq!((k.proto, k.family), (6, 4));
    }
}
