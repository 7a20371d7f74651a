//! Which addresses a config may give a VIP, a real server, a sorry server or the director:
//! unicast addresses a packet can be sent to and come from. Everything else is refused with
//! the reason, because the data plane would accept it and then never see (or never be able to
//! send) a packet for it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `a` cannot be the address of a VIP, real server or director (None: it can be).
///
/// Refused: the unspecified address and 0.0.0.0/8 ("this network", RFC 1122 3.2.1.3: only a
/// source while a host learns its address), loopback (127.0.0.0/8, ::1: never on a wire),
/// multicast (224.0.0.0/4, ff00::/8: IPVS balances unicast connections; a multicast VIP
/// would be joined by every host on the link), the limited broadcast 255.255.255.255, and
/// IPv4-mapped IPv6 addresses (::ffff:0:0/96, RFC 4291 2.5.5.2: packets carry the IPv4
/// address; write that). Link-local and private addresses are accepted: directors on one
/// link use them.
pub fn not_unicast(a: IpAddr) -> Option<String> {
    match a {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => v6(a),
    }
}

fn v4(a: Ipv4Addr) -> Option<String> {
    if a.is_unspecified() {
        Some(format!("{a} is the unspecified address"))
    } else if a.octets()[0] == 0 {
        Some(format!(
            "{a} is in 0.0.0.0/8 (\"this network\", RFC 1122): no packet is sent to it"
        ))
    } else if a.is_loopback() {
        Some(format!(
            "{a} is a loopback address: packets to it never leave a host"
        ))
    } else if a.is_multicast() {
        Some(format!(
            "{a} is a multicast address: lb balances unicast traffic"
        ))
    } else if a.is_broadcast() {
        Some(format!("{a} is the broadcast address"))
    } else {
        None
    }
}

fn v6(a: Ipv6Addr) -> Option<String> {
    if a.is_unspecified() {
        Some(format!("{a} is the unspecified address"))
    } else if a.is_loopback() {
        Some(format!(
            "{a} is the loopback address: packets to it never leave a host"
        ))
    } else if a.is_multicast() {
        Some(format!(
            "{a} is a multicast address: lb balances unicast traffic"
        ))
    } else {
        a.to_ipv4_mapped().map(|v4| {
            format!("{a} is an IPv4-mapped address: packets carry the IPv4 address, write {v4}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unicast_addresses_pass() {
        for ok in [
            "198.18.0.1",
            "10.0.0.1",
            "169.254.1.1",
            "1.0.0.0",
            "223.255.255.254",
            "2001:2::1",
            "fe80::1",
            "::2",
        ] {
            assert_eq!(not_unicast(ok.parse().unwrap()), None, "{ok}");
        }
        for (bad, why) in [
            ("0.0.0.0", "0.0.0.0 is the unspecified address"),
            (
                "0.1.2.3",
                "0.1.2.3 is in 0.0.0.0/8 (\"this network\", RFC 1122): no packet is sent to it",
            ),
            (
                "127.0.0.1",
                "127.0.0.1 is a loopback address: packets to it never leave a host",
            ),
            (
                "127.5.0.1",
                "127.5.0.1 is a loopback address: packets to it never leave a host",
            ),
            (
                "224.0.0.1",
                "224.0.0.1 is a multicast address: lb balances unicast traffic",
            ),
            (
                "239.255.255.255",
                "239.255.255.255 is a multicast address: lb balances unicast traffic",
            ),
            (
                "255.255.255.255",
                "255.255.255.255 is the broadcast address",
            ),
            ("::", ":: is the unspecified address"),
            (
                "::1",
                "::1 is the loopback address: packets to it never leave a host",
            ),
            (
                "ff02::1",
                "ff02::1 is a multicast address: lb balances unicast traffic",
            ),
            (
                "::ffff:198.18.0.1",
                "::ffff:198.18.0.1 is an IPv4-mapped address: packets carry the IPv4 address, write 198.18.0.1",
            ),
        ] {
            assert_eq!(
                not_unicast(bad.parse().unwrap()).as_deref(),
                Some(why),
                "{bad}"
            );
        }
    }
}
