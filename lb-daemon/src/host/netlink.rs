//! The kernel's view of links and neighbours, by rtnetlink (the socket `ip` itself uses): a
//! dump of the links (index, name, MTU, up) and of the neighbour tables of both families, a
//! subscription to their changes (RTMGRP_LINK, RTMGRP_NEIGH), and the few links lbd makes
//! itself (the FTP helper's veth pair: created, brought up, deleted). Asked of the network
//! namespace the calling thread is in (lbd's, with `--netns`).

use std::{io, net::IpAddr, os::fd::AsRawFd, time::Duration};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::{
    RouteNetlinkMessage,
    link::{
        InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, LinkXdp,
        XdpAttached,
    },
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
    /// The XDP program attached, if any: its id and mode (`native`, `generic`, `offload`,
    /// `multi`).
    pub xdp: Option<(u32, &'static str)>,
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

/// Creates a veth pair `name` / `peer` (`ip link add NAME type veth peer name PEER`); an
/// error if a link of either name exists.
pub fn add_veth(name: &str, peer: &str) -> io::Result<()> {
    let mut peer_msg = LinkMessage::default();
    peer_msg
        .attributes
        .push(LinkAttribute::IfName(peer.to_string()));
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
    ]));
    request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
}

/// Brings link `index` up (`ip link set DEV up`).
pub fn set_up(index: u32) -> io::Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    request(RouteNetlinkMessage::SetLink(msg), 0)
}

/// Deletes link `index` (`ip link del DEV`; a veth takes its peer with it).
pub fn delete(index: u32) -> io::Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    request(RouteNetlinkMessage::DelLink(msg), 0)
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
    // SAFETY: the socket outlives the borrow (it is `sock`, borrowed for this call).
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(sock.as_raw_fd()) };
    recv_timeout(fd, d)
}

/// Sets a socket's receive timeout (SO_RCVTIMEO): a blocking read returns WouldBlock after `d`.
pub fn recv_timeout(fd: std::os::fd::BorrowedFd<'_>, d: Duration) -> io::Result<()> {
    let tv = nix::sys::time::TimeVal::new(d.as_secs() as _, d.subsec_micros() as _);
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimeout, &tv)
        .map_err(io::Error::from)
}

/// A socket connected to the kernel's rtnetlink, its answers waited for 5 s at most.
fn kernel_socket() -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    set_recv_timeout(&sock, Duration::from_secs(5))?;
    Ok(sock)
}

/// Sends `req` with `NLM_F_REQUEST | NLM_F_ACK | flags` and returns once the kernel has
/// acknowledged it (or with the error it answered).
fn request(req: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
    let sock = kernel_socket()?;
    send(&sock, req, NLM_F_REQUEST | NLM_F_ACK | flags)?;
    loop {
        let (buf, _) = sock.recv_from_full()?;
        for m in messages(&buf)? {
            if let NetlinkPayload::Error(e) = m.payload {
                return match e.code {
                    Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                    None => Ok(()),
                };
            }
        }
    }
}

fn send(sock: &Socket, req: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(req));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    sock.send(&buf, 0)?;
    Ok(())
}

/// Sends a dump request and collects every answer until the kernel says done.
fn dump(req: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
    let sock = kernel_socket()?;
    send(&sock, req, NLM_F_REQUEST | NLM_F_DUMP)?;
    let mut out = Vec::new();
    loop {
        let (buf, _) = sock.recv_from_full()?;
        for m in messages(&buf)? {
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
        }
    }
}

/// The netlink messages one datagram holds, in order.
fn messages(buf: &[u8]) -> io::Result<Vec<NetlinkMessage<RouteNetlinkMessage>>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let m: NetlinkMessage<RouteNetlinkMessage> = NetlinkMessage::deserialize(&buf[off..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let len = m.header.length as usize;
        out.push(m);
        if len == 0 {
            break;
        }
        off += (len + 3) & !3;
    }
    Ok(out)
}

/// The route messages in one datagram of notifications.
fn parse(buf: &[u8]) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    for m in messages(buf)? {
        match m.payload {
            NetlinkPayload::InnerMessage(i) => out.push(i),
            NetlinkPayload::Overrun(_) => {
                return Err(io::Error::other("netlink notifications overran"));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn link(l: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mtu = 0;
    let mut xdp = None;
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Xdp(x) => xdp = xdp_of(x),
            _ => {}
        }
    }
    Link {
        index: l.header.index,
        name,
        mtu,
        up: l.header.flags.contains(LinkFlags::Up) && l.header.flags.contains(LinkFlags::LowerUp),
        xdp,
    }
}

/// The attached XDP program's id and mode, from a link's IFLA_XDP attributes.
fn xdp_of(x: &[LinkXdp]) -> Option<(u32, &'static str)> {
    let mode = x.iter().find_map(|a| match a {
        LinkXdp::Attached(XdpAttached::None) => Some(None),
        LinkXdp::Attached(XdpAttached::Driver) => Some(Some("native")),
        LinkXdp::Attached(XdpAttached::SocketBuffer) => Some(Some("generic")),
        LinkXdp::Attached(XdpAttached::Hardware) => Some(Some("offload")),
        LinkXdp::Attached(_) => Some(Some("multi")),
        _ => None,
    })??;
    let id = x.iter().find_map(|a| match a {
        LinkXdp::ProgId(id) => Some(*id),
        _ => None,
    })?;
    Some((id, mode))
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

    /// A veth pair made, brought up and deleted by rtnetlink, in a network namespace of the
    /// test thread's own (gone with the thread, also if the test fails).
    #[test]
    fn a_veth_pair_is_created_brought_up_and_deleted() {
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("a network namespace of the thread's own (the tests run as root)");
            add_veth("lbt-a0", "lbt-a1").unwrap();
            let e = add_veth("lbt-a0", "lbt-a2").unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
            let a0 = link_by_name("lbt-a0").unwrap().expect("lbt-a0");
            let a1 = link_by_name("lbt-a1").unwrap().expect("lbt-a1");
            assert!(!a0.up && !a1.up);
            set_up(a0.index).unwrap();
            set_up(a1.index).unwrap();
            // Up with its carrier once both ends are up (the carrier may take a moment).
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while !link_by_name("lbt-a0").unwrap().expect("lbt-a0").up {
                assert!(std::time::Instant::now() < deadline, "lbt-a0 never came up");
                std::thread::sleep(Duration::from_millis(10));
            }
            delete(a0.index).unwrap();
            assert!(link_by_name("lbt-a0").unwrap().is_none());
            assert!(
                link_by_name("lbt-a1").unwrap().is_none(),
                "the peer goes with it"
            );
            let e = delete(a0.index).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{e}");
        })
        .join()
        .unwrap();
    }
}
