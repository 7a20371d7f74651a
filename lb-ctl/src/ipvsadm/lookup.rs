//! Host and service names behind ipvsadm's `host_to_addr` and `service_to_port`.

use std::net::{IpAddr, Ipv4Addr};

/// Name lookups behind ipvsadm's `host_to_addr` and `service_to_port` (tests use a table:
/// nothing may leave the machine).
pub trait Lookup {
    /// An IPv4 address for a host name.
    fn host(&self, name: &str) -> Option<Ipv4Addr>;
    /// A port for a service name ("http") of a protocol ("tcp", "udp").
    fn service(&self, name: &str, proto: &str) -> Option<u16>;
}

/// The system's resolver (`getaddrinfo`, `getservbyname`).
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

    fn service(&self, name: &str, proto: &str) -> Option<u16> {
        let name = std::ffi::CString::new(name).ok()?;
        let proto = std::ffi::CString::new(proto).ok()?;
        // SAFETY: valid C strings; the returned entry is read at once, before any other
        // netdb call on this thread.
        unsafe {
            let e = libc::getservbyname(name.as_ptr(), proto.as_ptr());
            if e.is_null() {
                None
            } else {
                Some(u16::from_be((*e).s_port as u16))
            }
        }
    }
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
