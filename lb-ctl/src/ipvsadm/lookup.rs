//! Host and service names behind ipvsadm's `host_to_addr` and `service_to_port`.

use std::net::{IpAddr, Ipv4Addr};

use super::c_values::c_space;

/// Name lookups behind ipvsadm's `host_to_addr` and `service_to_port` (tests use a table:
/// nothing may leave the machine).
pub trait Lookup {
    /// An IPv4 address for a host name.
    fn host(&self, name: &str) -> Option<Ipv4Addr>;
    /// A port for a service name ("http") of a protocol ("tcp", "udp").
    fn service(&self, name: &str, proto: &str) -> Option<u16>;
}

/// The system's resolver (`getaddrinfo`).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn host(&self, name: &str) -> Option<Ipv4Addr> {
        use std::net::ToSocketAddrs;
        (name, 0u16)
            .to_socket_addrs()
            .ok()?
            .find_map(|a| match a.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
    }

    /// `getservbyname(name, proto)`, asked of `getaddrinfo` (which looks a service name up
    /// the same way, of the protocol its hints give). getaddrinfo reads a number itself, and
    /// "" as no service: those are no names ([`names_a_number`]).
    fn service(&self, name: &str, proto: &str) -> Option<u16> {
        let (socktype, protocol) = match proto {
            "tcp" => (libc::SOCK_STREAM, libc::IPPROTO_TCP),
            "udp" => (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
            _ => return None,
        };
        if names_a_number(name) {
            return None;
        }
        let hints = dns_lookup::AddrInfoHints {
            socktype,
            protocol,
            ..Default::default()
        };
        // No host: nothing is resolved but the service name.
        dns_lookup::getaddrinfo(None, Some(name), Some(hints))
            .ok()?
            .find_map(Result::ok)
            .map(|info| info.sockaddr.port())
    }
}

/// Whether glibc's `getaddrinfo` takes `service` for a port number rather than a name: ""
/// (no service), or a string `strtoul` reads whole (blanks, a sign, digits).
fn names_a_number(service: &str) -> bool {
    let t = service.trim_start_matches(c_space);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    service.is_empty() || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// No lookups at all: only literal addresses and numeric ports.
pub struct NoLookup;

impl Lookup for NoLookup {
    fn host(&self, _: &str) -> Option<Ipv4Addr> {
        None
    }
    fn service(&self, _: &str, _: &str) -> Option<u16> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_no_service_names() {
        for number in ["", "80", " 80", "+80", "-1", "99999", "\t007"] {
            assert!(names_a_number(number), "{number:?}");
        }
        for name in [
            "http",
            " ",
            "0x50",
            "80 ",
            "+-80",
            "+",
            "9pfs",
            "3com-tsmux",
        ] {
            assert!(!names_a_number(name), "{name:?}");
        }
    }

    /// The services database of this machine (a file, no network): what `getservbyname`
    /// gives, through `getaddrinfo`, for every name and alias in it.
    #[test]
    fn service_names_of_the_system() {
        let Some(services) = std::fs::read_to_string("/etc/services").ok() else {
            eprintln!("skipped: no /etc/services on this machine");
            return;
        };
        // (names, port, protocol) per entry, in the file's order.
        let entries: Vec<(Vec<&str>, u16, &str)> = services
            .lines()
            .filter_map(|l| {
                let mut w = l.split('#').next().unwrap_or("").split_whitespace();
                let name = w.next()?;
                let (port, proto) = w.next()?.split_once('/')?;
                let names = std::iter::once(name).chain(w).collect();
                Some((names, port.parse().ok()?, proto))
            })
            .collect();
        assert!(!entries.is_empty(), "no entry read from /etc/services");
        for (names, _, proto) in entries.iter().filter(|e| e.2 == "tcp" || e.2 == "udp") {
            for name in names {
                // The first entry of a name and protocol is the one found.
                let want = entries
                    .iter()
                    .find(|(n, _, p)| p == proto && n.contains(name))
                    .map(|e| e.1);
                assert_eq!(SystemLookup.service(name, proto), want, "{name}/{proto}");
            }
        }
        assert_eq!(SystemLookup.service("no-such-service-name", "tcp"), None);
        assert_eq!(SystemLookup.service("", "tcp"), None);
        assert_eq!(SystemLookup.service("80", "tcp"), None);
    }
}
