//! The kernel's view of links and neighbours, by rtnetlink (the socket `ip` itself uses): a
//! dump of the links (index, name, MTU, up) and of the neighbour tables of both families, and
//! a subscription to their changes (RTMGRP_LINK, RTMGRP_NEIGH). Asked of the network
//! namespace the calling thread is in (lbd's, with `--netns`).

use std::{io, net::IpAddr, os::fd::AsRawFd, time::Duration};

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::{
    RouteNetlinkMessage,
    link::{LinkAttribute, LinkFlags, LinkMessage},
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState},
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// rtnetlink's multicast groups (linux/rtnetlink.h): link changes, neighbour changes.
const RTMGRP_LINK: u32 = 1;
const RTMGRP_NEIGH: u32 = 4;

/// A link as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mtu: u32,
    /// Administratively up with its carrier (IFF_UP and IFF_LOWER_UP).
    pub up: bool,
}

/// A neighbour entry (ARP or NDP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub addr: IpAddr,
    pub ifindex: u32,
    /// Has a MAC the FIB lookup from XDP accepts (NUD_VALID: reachable, stale, delay, probe,
    /// permanent, noarp).
    pub usable: bool,
}

/// A change the kernel announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Link(Link),
    LinkGone(u32),
    Neighbour(Neighbour),
    NeighbourGone(IpAddr),
}

/// Every link of the namespace.
pub fn links() -> io::Result<Vec<Link>> {
    let msgs = dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(link(&l)),
            _ => None,
        })
        .collect())
}

/// The link named `name`, if there is one.
pub fn link_by_name(name: &str) -> io::Result<Option<Link>> {
    Ok(links()?.into_iter().find(|l| l.name == name))
}

/// Every neighbour entry of both families.
pub fn neighbours() -> io::Result<Vec<Neighbour>> {
    let msgs = dump(RouteNetlinkMessage::GetNeighbour(
        NeighbourMessage::default(),
    ))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(n) => neighbour(&n),
            _ => None,
        })
        .collect())
}

/// A subscription to link and neighbour changes.
pub struct Events {
    sock: Socket,
}

impl Events {
    pub fn subscribe() -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(0, RTMGRP_LINK | RTMGRP_NEIGH))?;
        Ok(Self { sock })
    }

    /// The changes announced within `timeout` (empty when none came). A lost notification
    /// (the socket's buffer overran, ENOBUFS) is reported as an error: the caller should
    /// take a fresh dump.
    pub fn next(&self, timeout: Duration) -> io::Result<Vec<Event>> {
        set_recv_timeout(&self.sock, timeout)?;
        let buf = match self.sock.recv_from_full() {
            Ok((buf, _)) => buf,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for m in parse(&buf)? {
            match m {
                RouteNetlinkMessage::NewLink(l) => out.push(Event::Link(link(&l))),
                RouteNetlinkMessage::DelLink(l) => out.push(Event::LinkGone(l.header.index)),
                RouteNetlinkMessage::NewNeighbour(n) => {
                    out.extend(neighbour(&n).map(Event::Neighbour))
                }
                RouteNetlinkMessage::DelNeighbour(n) => {
                    out.extend(neighbour(&n).map(|n| Event::NeighbourGone(n.addr)))
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn set_recv_timeout(sock: &Socket, d: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a plain setsockopt on a socket this process owns, with a timeval it reads.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends a dump request and collects every answer until the kernel says done.
fn dump(req: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    set_recv_timeout(&sock, Duration::from_secs(5))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(req));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    sock.send(&buf, 0)?;
    let mut out = Vec::new();
    loop {
        let (buf, _) = sock.recv_from_full()?;
        let mut off = 0;
        while off < buf.len() {
            let m: NetlinkMessage<RouteNetlinkMessage> =
                NetlinkMessage::deserialize(&buf[off..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = m.header.length as usize;
            match m.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(io::Error::from_raw_os_error(-code.get()));
                    }
                }
                NetlinkPayload::InnerMessage(i) => out.push(i),
                _ => {}
            }
            if len == 0 {
                break;
            }
            off += (len + 3) & !3;
        }
    }
}

/// The route messages in one datagram of notifications.
fn parse(buf: &[u8]) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let m: NetlinkMessage<RouteNetlinkMessage> = NetlinkMessage::deserialize(&buf[off..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let len = m.header.length as usize;
        match m.payload {
            NetlinkPayload::InnerMessage(i) => out.push(i),
            NetlinkPayload::Overrun(_) => {
                return Err(io::Error::other("netlink notifications overran"));
            }
            _ => {}
        }
        if len == 0 {
            break;
        }
        off += (len + 3) & !3;
    }
    Ok(out)
}

fn link(l: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mtu = 0;
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Mtu(m) => mtu = *m,
            _ => {}
        }
    }
    Link {
        index: l.header.index,
        name,
        mtu,
        up: l.header.flags.contains(LinkFlags::Up) && l.header.flags.contains(LinkFlags::LowerUp),
    }
}

fn neighbour(n: &NeighbourMessage) -> Option<Neighbour> {
    let addr = n.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    })?;
    let usable = matches!(
        n.header.state,
        NeighbourState::Reachable
            | NeighbourState::Stale
            | NeighbourState::Delay
            | NeighbourState::Probe
            | NeighbourState::Permanent
            | NeighbourState::Noarp
    );
    Some(Neighbour {
        addr,
        ifindex: n.header.ifindex,
        usable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loopback link of the namespace the test runs in is always there, up, with its
    /// 65536-byte MTU; a dump of the neighbour tables answers (it may be empty).
    #[test]
    fn dumps_answer_with_the_namespaces_links_and_neighbours() {
        let lo = link_by_name("lo").unwrap().expect("lo");
        assert_eq!(lo.index, 1);
        assert!(lo.mtu >= 1280, "{lo:?}");
        assert!(link_by_name("no-such-if0").unwrap().is_none());
        neighbours().unwrap();
        Events::subscribe()
            .unwrap()
            .next(Duration::from_millis(10))
            .unwrap();
    }
}
