//! ipvsadm's readings of addresses: `parse_service` (a service's or real server's
//! `host[:port]`) and `parse_netmask` (`-M`, the persistence granularity).

use std::net::{IpAddr, Ipv4Addr};

use super::{
    c_values::{atoi, inet_aton, number},
    lookup::Lookup,
};
use crate::command::UsageError;

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port` or a bare IPv6 address; the host
/// an IPv6 address (`inet_pton`), else an IPv4 one as `inet_aton` reads it ("10.1:80" is
/// 10.0.0.1), else a host name; the port a number or a service name of `proto`. None when it
/// does not parse (ipvsadm's `SERVICE_NONE`).
///
/// As in ipvsadm, a string of digits alone is no address, the port after `[...]` counts
/// only when the brackets hold an IPv6 address (`[10.0.0.1]:80` is 10.0.0.1 without a port:
/// ipvsadm looks for the port's colon again inside the brackets), and `[v6]` must be
/// followed by `:`.
pub fn parse_address(buf: &str, proto: &str, lookup: &dyn Lookup) -> Option<(IpAddr, Option<u16>)> {
    // str_is_digit(buf), true for "" too
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = buf;
    let mut bracket_port = None;
    if let Some(rest) = buf.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        bracket_port = Some(after.strip_prefix(':')?);
        host = inner;
    }
    let (addr, port) = match host.parse::<std::net::Ipv6Addr>() {
        Ok(a) => (IpAddr::V6(a), bracket_port),
        Err(_) => {
            let (h, p) = match host.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host, None),
            };
            let a = inet_aton(h).or_else(|| lookup.host(h))?;
            (IpAddr::V4(a), p)
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p, proto, lookup)?),
        None => None,
    };
    Some((addr, port))
}

fn parse_port(p: &str, proto: &str, lookup: &dyn Lookup) -> Option<u16> {
    match number(p, 0, 65535) {
        Some(n) => Some(n as u16),
        None if proto == "tcp" || proto == "udp" => lookup.service(p, proto),
        None => None,
    }
}

/// `-M`: ipvsadm's `parse_netmask` for an IPv4 service (a dotted mask, or a host name),
/// `atoi` for an IPv6 one; as a prefix length.
pub(super) fn netmask(
    m: Option<&str>,
    is_v6: bool,
    lookup: &dyn Lookup,
) -> Result<Option<u8>, UsageError> {
    Ok(match m {
        None => None,
        // ce->svc.netmask = atoi(optarg), an unsigned 32-bit field, then 1..=128.
        Some(m) if is_v6 => match atoi(m) as u32 {
            n @ 1..=128 => Some(n as u8),
            _ => return Err(UsageError::new("illegal ipv6 netmask specified")),
        },
        // parse_netmask: inet_aton, else a host name.
        Some(m) => {
            let mask = inet_aton(m).or_else(|| lookup.host(m)).ok_or_else(|| {
                UsageError::new("illegal virtual server persistent mask specified")
            })?;
            Some(mask_prefix(mask).ok_or_else(|| {
                UsageError::new(format!(
                    "persistent mask {m} is not contiguous: lb takes a prefix mask such as 255.255.255.0"
                ))
            })?)
        }
    })
}

/// An IPv4 netmask in dotted form as a prefix length (lb's persistence granularity is a
/// prefix).
fn mask_prefix(m: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(m);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvsadm::test_util::Table;

    #[test]
    fn service_addresses_as_parse_service_reads_them() {
        let p = |s: &str| parse_address(s, "tcp", &Table);
        let v4 = |a: &str| IpAddr::V4(a.parse().unwrap());
        assert_eq!(p("10.1:80"), Some((v4("10.0.0.1"), Some(80))));
        assert_eq!(p("123:80"), Some((v4("0.0.0.123"), Some(80))));
        assert_eq!(p("123"), None); // digits alone
        assert_eq!(
            p("www.example.test:http"),
            Some((v4("192.0.2.80"), Some(80)))
        );
        assert_eq!(p("10.0.0.1: 80"), Some((v4("10.0.0.1"), Some(80))));
        // A bracketed IPv4 address loses its port: ipvsadm looks for the colon inside.
        assert_eq!(p("[10.0.0.1]:80"), Some((v4("10.0.0.1"), None)));
        assert_eq!(p("[10.0.0.1]"), None);
        assert_eq!(
            p("[2001:db8::1]:https"),
            None,
            "no such service name in the table"
        );
        assert_eq!(
            p("2001:db8::1"),
            Some((IpAddr::V6("2001:db8::1".parse().unwrap()), None))
        );
        assert_eq!(
            p("[2001:db8::1]:0"),
            Some((IpAddr::V6("2001:db8::1".parse().unwrap()), Some(0)))
        );
    }

    #[test]
    fn netmask_prefixes() {
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 240, 0)), Some(20));
        assert_eq!(mask_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
    }
}
