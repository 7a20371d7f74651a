//! The names a listing prints without `-n` (ipvsadm's `addr_to_host`, `port_to_service`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Name lookups for output without `-n` (ipvsadm's `addr_to_host`, `port_to_service`).
pub trait Resolve {
    /// The host name of an address, if it has one.
    fn host(&self, addr: IpAddr) -> Option<String>;
    /// The service name of a port of `protocol` ("tcp", "udp"), if it has one.
    fn service(&self, port: u16, protocol: &str) -> Option<String>;
}

/// `-n`: addresses and ports as numbers.
pub struct Numeric;

impl Resolve for Numeric {
    fn host(&self, _: IpAddr) -> Option<String> {
        None
    }
    fn service(&self, _: u16, _: &str) -> Option<String> {
        None
    }
}

/// The system's resolver (`getnameinfo`).
pub struct SystemNames;

impl Resolve for SystemNames {
    /// `getnameinfo(NI_NAMEREQD)`: the host's name, or none (never the address as text); the
    /// port is not looked up (`NI_NUMERICSERV`).
    fn host(&self, addr: IpAddr) -> Option<String> {
        let flags = libc::NI_NAMEREQD | libc::NI_NUMERICSERV;
        dns_lookup::getnameinfo(&SocketAddr::new(addr, 0), flags)
            .ok()
            .map(|(host, _)| host)
    }

    /// `getservbyport(port, protocol)`, asked of `getnameinfo` (which looks the port up the
    /// same way, of "udp" with `NI_DGRAM`, else "tcp"). getnameinfo prints the number for a
    /// port without a name: that is no name.
    fn service(&self, port: u16, protocol: &str) -> Option<String> {
        let datagram = match protocol {
            "tcp" => 0,
            "udp" => libc::NI_DGRAM,
            _ => return None,
        };
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        let (_, service) = dns_lookup::getnameinfo(&any, libc::NI_NUMERICHOST | datagram).ok()?;
        (service != port.to_string()).then_some(service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The services database of this machine (a file, no network): each port's first name.
    #[test]
    fn service_names_of_the_system() {
        let Some(services) = std::fs::read_to_string("/etc/services").ok() else {
            eprintln!("skipped: no /etc/services on this machine");
            return;
        };
        let first = |port: u16, proto: &str| {
            services.lines().find_map(|l| {
                let mut w = l.split('#').next().unwrap_or("").split_whitespace();
                let name = w.next()?;
                (w.next()? == format!("{port}/{proto}")).then(|| name.to_string())
            })
        };
        for proto in ["tcp", "udp"] {
            for port in (0..=1024).chain([8080, 65535]) {
                assert_eq!(
                    SystemNames.service(port, proto),
                    first(port, proto),
                    "{port}/{proto}"
                );
            }
        }
        assert_eq!(SystemNames.service(80, "sctp"), None);
    }

    /// Host names from the hosts file only (the addresses of the loopback), so that no
    /// resolver is asked.
    #[test]
    fn host_names_of_the_system() {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let first = hosts.lines().find_map(|l| {
            let mut w = l.split('#').next().unwrap_or("").split_whitespace();
            (w.next()? == "127.0.0.1").then(|| w.next().map(str::to_string))?
        });
        let Some(name) = first else {
            eprintln!("skipped: 127.0.0.1 has no name in /etc/hosts");
            return;
        };
        assert_eq!(SystemNames.host("127.0.0.1".parse().unwrap()), Some(name));
    }
}
