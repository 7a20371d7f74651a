//! The names a listing prints without `-n` (ipvsadm's `addr_to_host`, `port_to_service`).

use std::net::IpAddr;

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

/// The system's resolver (`getnameinfo`, `getservbyport`).
pub struct SystemNames;

impl Resolve for SystemNames {
    fn host(&self, addr: IpAddr) -> Option<String> {
        let sa = std::net::SocketAddr::new(addr, 0);
        // SAFETY: a sockaddr of the right family and length, and a buffer getnameinfo fills
        // with a NUL-terminated name.
        unsafe {
            let mut storage: libc::sockaddr_storage = std::mem::zeroed();
            let len = match sa {
                std::net::SocketAddr::V4(v4) => {
                    let p = &mut storage as *mut _ as *mut libc::sockaddr_in;
                    (*p).sin_family = libc::AF_INET as u16;
                    (*p).sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
                    std::mem::size_of::<libc::sockaddr_in>()
                }
                std::net::SocketAddr::V6(v6) => {
                    let p = &mut storage as *mut _ as *mut libc::sockaddr_in6;
                    (*p).sin6_family = libc::AF_INET6 as u16;
                    (*p).sin6_addr.s6_addr = v6.ip().octets();
                    std::mem::size_of::<libc::sockaddr_in6>()
                }
            };
            let mut host = [0 as libc::c_char; 1025];
            let rc = libc::getnameinfo(
                &storage as *const _ as *const libc::sockaddr,
                len as libc::socklen_t,
                host.as_mut_ptr(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            );
            if rc != 0 {
                return None;
            }
            Some(
                std::ffi::CStr::from_ptr(host.as_ptr())
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }

    fn service(&self, port: u16, protocol: &str) -> Option<String> {
        if protocol != "tcp" && protocol != "udp" {
            return None;
        }
        let proto = std::ffi::CString::new(protocol).ok()?;
        // SAFETY: a valid C string; the entry is copied out at once.
        unsafe {
            let e = libc::getservbyport(port.to_be() as libc::c_int, proto.as_ptr());
            if e.is_null() {
                None
            } else {
                Some(
                    std::ffi::CStr::from_ptr((*e).s_name)
                        .to_string_lossy()
                        .into_owned(),
                )
            }
        }
    }
}
