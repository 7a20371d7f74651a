//! An interface's MTU, asked of the current network namespace with `SIOCGIFMTU` (/sys would
//! show the namespace it was mounted in, which with `--netns` is the host's).

use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

nix::ioctl_readwrite_bad!(siocgifmtu, libc::SIOCGIFMTU, libc::ifreq);

/// The MTU of interface `iface`.
pub fn interface_mtu(iface: &str) -> Result<u32> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .with_context(|| format!("interface {iface}: reading its MTU"))?;
    // SAFETY: ifreq is plain data; all zeros is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(iface.bytes().take(15)) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU on a datagram socket with a NUL-terminated name that fits; the
    // kernel writes the MTU into the request.
    unsafe { siocgifmtu(sock.as_raw_fd(), &mut req) }
        .map_err(std::io::Error::from)
        .with_context(|| format!("interface {iface}: reading its MTU"))?;
    // SAFETY: SIOCGIFMTU filled the union's MTU member.
    Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}
