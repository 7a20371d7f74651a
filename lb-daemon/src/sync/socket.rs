//! The sync daemon's sockets, as the kernel's sync daemon opens them
//! (net/netfilter/ipvs/ip_vs_sync.c, `make_send_sock`, `make_receive_sock`):
//! - a multicast sender: the outgoing interface set (`IP_MULTICAST_IF` /
//!   `IPV6_MULTICAST_IF`), loopback off, TTL or hop limit `mcast_ttl`; an IPv4 one bound to
//!   the interface's address, an IPv6 one left to source selection (the interface's
//!   link-local address for a link-local group);
//! - a multicast receiver: bound to the group and port on the interface, the group joined
//!   there (`IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP`);
//! - with unicast peers, lb's own: a sender and a receiver (the port of any address) of
//!   both families where the host has IPv6, so that IPv4 and IPv6 peers mix.

use std::{
    io,
    net::{
        IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, UdpSocket,
    },
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    time::Duration,
};

use lb_model::config::SyncConfig;

/// The receive buffer lbd asks for its sync socket (`SO_RCVBUFFORCE`, which lbd may use as
/// root, above `net.core.rmem_max`; the kernel doubles it for its bookkeeping). The default
/// (`net.core.rmem_default`, 208 KiB here) holds 92 datagrams of 1,472 bytes (each counts
/// 2,304 bytes, measured): 3,700 records, 37 ms of a 100,000-a-second stream, less than the
/// receiver may wait for a CPU or for the data plane's lock (a pass of the expiry over a
/// large table). 4 MiB holds 3,640 such datagrams (measured), 145,000 records: 1.4 s of
/// that stream.
pub const RECV_BUFFER: usize = 4 << 20;

/// How long the receiver waits for a datagram before it looks whether it was stopped.
pub const RECV_WAIT: Duration = Duration::from_millis(200);

/// The index of interface `name`.
fn interface_index(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name)
        .map_err(|e| io::Error::other(format!("interface {name}: {e}")))
}

/// The IPv4 address and index of interface `name`.
fn interface_v4(name: &str) -> io::Result<(Ipv4Addr, u32)> {
    let index = interface_index(name)?;
    let addr = nix::ifaddrs::getifaddrs()
        .map_err(io::Error::other)?
        .filter(|a| a.interface_name == name)
        .find_map(|a| a.address.and_then(|s| s.as_sockaddr_in().map(|v4| v4.ip())))
        .ok_or_else(|| io::Error::other(format!("interface {name} has no IPv4 address")))?;
    Ok((addr, index))
}

/// The master's socket and where its messages go.
pub fn open_send(cfg: &SyncConfig, iface: &str) -> io::Result<(UdpSocket, Vec<SocketAddr>)> {
    if !cfg.peers.is_empty() {
        if !cfg.peers.iter().any(|p| p.is_ipv6()) {
            let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
            return Ok((s, cfg.peers.clone()));
        }
        // An IPv6 socket of both families: an IPv4 peer is written as its IPv4-mapped address.
        let s = dual_stack_udp(0)?;
        let dests = cfg
            .peers
            .iter()
            .map(|p| SocketAddr::V6(mapped(*p)))
            .collect();
        return Ok((s, dests));
    }
    match cfg.group() {
        IpAddr::V4(group) => {
            let (if_addr, if_index) = interface_v4(iface)?;
            let s = UdpSocket::bind(SocketAddrV4::new(if_addr, 0))?;
            s.set_multicast_ttl_v4(cfg.ttl() as u32)?;
            // Our own messages are not for us.
            s.set_multicast_loop_v4(false)?;
            set_multicast_if(&s, if_index)?;
            Ok((s, vec![SocketAddr::from((group, cfg.port()))]))
        }
        IpAddr::V6(group) => {
            let if_index = interface_index(iface)?;
            let s = UdpSocket::bind(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0))?;
            set_int(
                &s,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_IF,
                if_index as i32,
            )?;
            set_int(
                &s,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                cfg.ttl() as i32,
            )?;
            s.set_multicast_loop_v6(false)?;
            // The scope of a link-local group is the interface's link.
            let dest = SocketAddrV6::new(group, cfg.port(), 0, scope_of(&group, if_index));
            Ok((s, vec![SocketAddr::V6(dest)]))
        }
    }
}

/// The backup's socket: the group joined on the interface, or the port of any address (both
/// families), with a receive buffer of [`RECV_BUFFER`].
pub fn open_recv(cfg: &SyncConfig, iface: &str) -> io::Result<UdpSocket> {
    let s = if !cfg.peers.is_empty() {
        dual_stack_udp(cfg.port())
            .or_else(|_| UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, cfg.port())))?
    } else {
        match cfg.group() {
            IpAddr::V4(group) => {
                let (if_addr, _) = interface_v4(iface)?;
                let s = UdpSocket::bind(SocketAddrV4::new(group, cfg.port()))?;
                s.join_multicast_v4(&group, &if_addr)?;
                s
            }
            IpAddr::V6(group) => {
                let if_index = interface_index(iface)?;
                // Bound to the group on the interface (a link-local group needs its scope),
                // as the kernel's receiver is (`sk_bound_dev_if`).
                let s = UdpSocket::bind(SocketAddrV6::new(
                    group,
                    cfg.port(),
                    0,
                    scope_of(&group, if_index),
                ))?;
                s.join_multicast_v6(&group, if_index)?;
                s
            }
        }
    };
    set_recv_buffer(&s, RECV_BUFFER)?;
    s.set_read_timeout(Some(RECV_WAIT))?;
    Ok(s)
}

/// The bulk sync's answering side: TCP `port` of any address, both families where the host
/// has IPv6.
pub fn listen_tcp(port: u16) -> io::Result<TcpListener> {
    match dual_stack(libc::SOCK_STREAM, port) {
        Ok(fd) => {
            // SAFETY: listen(2) on a bound stream socket we own.
            if unsafe { libc::listen(fd.as_raw_fd(), 128) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(TcpListener::from(fd))
        }
        Err(_) => TcpListener::bind(("0.0.0.0", port)),
    }
}

/// A sender's address as an IPv6 socket sees it: an IPv4 one as its IPv4-mapped address.
fn mapped(a: SocketAddr) -> SocketAddrV6 {
    match a {
        SocketAddr::V6(v6) => v6,
        SocketAddr::V4(v4) => SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0),
    }
}

/// The scope id a multicast group of interface `if_index` needs: the interface for a group
/// of interface-local or link-local scope (ff01::/16, ff02::/16), none for a wider one.
fn scope_of(group: &Ipv6Addr, if_index: u32) -> u32 {
    match group.segments()[0] & 0x000f {
        1 | 2 => if_index,
        _ => 0,
    }
}

/// A UDP socket of both families bound to `port` of any address.
fn dual_stack_udp(port: u16) -> io::Result<UdpSocket> {
    dual_stack(libc::SOCK_DGRAM, port).map(UdpSocket::from)
}

/// An IPv6 socket of type `ty` that takes IPv4 too (`IPV6_V6ONLY` off, whatever
/// `net.ipv6.bindv6only` says), bound to `port` of any address (`SO_REUSEADDR` on a
/// stream socket, as std's listener has it).
fn dual_stack(ty: libc::c_int, port: u16) -> io::Result<OwnedFd> {
    // SAFETY: socket(2); the descriptor is owned at once.
    let raw = unsafe { libc::socket(libc::AF_INET6, ty | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor socket(2) just returned, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    if ty == libc::SOCK_STREAM {
        set_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    }
    let sa = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
        sin6_scope_id: 0,
    };
    // SAFETY: bind(2) with a sockaddr_in6 of the size we pass.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// An integer socket option.
fn set_int(
    s: &impl AsRawFd,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    let fd: RawFd = s.as_raw_fd();
    // SAFETY: a setsockopt on a socket we own with an int of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &v as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets `s`'s receive buffer to `bytes`: `SO_RCVBUFFORCE`, or `SO_RCVBUF` (capped by
/// `net.core.rmem_max`) without `CAP_NET_ADMIN`.
pub fn set_recv_buffer(s: &UdpSocket, bytes: usize) -> io::Result<()> {
    let v = bytes as libc::c_int;
    set_int(s, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v)
        .or_else(|_| set_int(s, libc::SOL_SOCKET, libc::SO_RCVBUF, v))
}

/// `IP_MULTICAST_IF` by interface index (`struct ip_mreqn`).
fn set_multicast_if(s: &UdpSocket, ifindex: u32) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as i32,
    };
    // SAFETY: a setsockopt on a socket we own with a struct of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            &mreq as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::ip_mreqn>() as u32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_groups_take_the_interface_as_their_scope() {
        let g = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(scope_of(&g("ff02::81"), 7), 7);
        assert_eq!(scope_of(&g("ff12::1:81"), 7), 7);
        assert_eq!(scope_of(&g("ff01::81"), 7), 7);
        assert_eq!(scope_of(&g("ff05::81"), 7), 0);
        assert_eq!(scope_of(&g("ff0e::81"), 7), 0);
    }

    #[test]
    fn ipv4_peers_of_an_ipv6_socket_are_mapped() {
        let a: SocketAddr = "198.18.0.3:8848".parse().unwrap();
        assert_eq!(mapped(a).to_string(), "[::ffff:198.18.0.3]:8848");
        let b: SocketAddr = "[2001:2::3]:8848".parse().unwrap();
        assert_eq!(mapped(b).to_string(), "[2001:2::3]:8848");
    }
}
