//! The helper's interface: a veth pair lbd creates in its network namespace. `lb` redirects
//! control frames into `lbftp0` (the data plane's `lb_ftp_helper` device map names it); they
//! arrive on `lbftp1`, which runs the object's `pass` program (a veth delivers redirected
//! frames only to a peer with an XDP program) and has no address, so the kernel drops them
//! after lbd's packet socket has read them. lbd sends each frame on with a packet socket on
//! the interface whose MAC is the frame's source (the next hop `lb` chose).

use std::{
    io,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

use crate::host::netlink;

/// The end `lb` redirects into.
pub const INTO: &str = "lbftp0";
/// The end lbd reads.
pub const READ: &str = "lbftp1";

/// Creates the pair (unless it exists) and brings both ends up, by rtnetlink.
pub fn create() -> io::Result<()> {
    if index(READ).is_err() {
        netlink::add_veth(INTO, READ).map_err(|e| named("creating", e))?;
    }
    for end in [INTO, READ] {
        netlink::set_up(index(end)?).map_err(|e| named("bringing up", e))?;
    }
    Ok(())
}

/// Deletes the pair, if there is one (`lbd flush`).
pub fn remove() -> io::Result<()> {
    match index(INTO) {
        Ok(i) => netlink::delete(i).map_err(|e| named("deleting", e)),
        Err(_) => Ok(()),
    }
}

fn named(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} the veth pair {INTO}/{READ}: {e}"))
}

/// An interface's index in this network namespace.
pub fn index(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(io::Error::from)
}

/// An interface's MAC address (the data plane's own reader: its link-layer address).
pub fn mac(name: &str) -> io::Result<[u8; 6]> {
    crate::dataplane::links::mac(name)
        .ok_or_else(|| io::Error::other(format!("interface {name} has no MAC address")))
}

/// A packet socket (AF_PACKET, every protocol) bound to interface `ifindex`.
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    pub fn bind(ifindex: u32, timeout: Duration) -> io::Result<Self> {
        let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
        // SAFETY: creating a socket; the fd is owned below.
        let fd =
            unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto as u16;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: a sockaddr_ll of its own size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        netlink::recv_timeout(fd.as_fd(), timeout)?;
        Ok(Self { fd })
    }

    /// One frame that arrived on the interface (None: the timeout passed). Frames this
    /// socket sent itself (PACKET_OUTGOING) are skipped.
    pub fn recv(&self, buf: &mut Vec<u8>) -> io::Result<Option<()>> {
        buf.resize(65_536, 0);
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: buf and sll are valid for the sizes given.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
                &mut sll as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                &mut len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        buf.truncate(n as usize);
        if sll.sll_pkttype == libc::PACKET_OUTGOING {
            return Ok(None);
        }
        Ok(Some(()))
    }

    /// Sends `frame` (a whole Ethernet frame) out of interface `ifindex`.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and sll are valid for the sizes given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The helper's interface, opened: the reading socket on [`READ`] (with `pass` attached to
/// it) and the director's interfaces a frame may leave by, with their MACs.
pub struct Port {
    socket: PacketSocket,
    /// Keeps `pass` attached to [`READ`] (dropping it detaches it).
    _pass: aya::Ebpf,
    interfaces: Vec<String>,
    egress: Vec<([u8; 6], u32)>,
    /// The index of [`INTO`], for `lb`'s device map.
    pub into: u32,
}

impl Port {
    /// Creates the veth pair if need be, attaches `pass` to its reading end and binds the
    /// socket; `interfaces`: those `lb` is attached to, where frames leave.
    pub fn open(interfaces: &[String]) -> Result<Self, String> {
        create().map_err(|e| format!("creating the FTP helper's interface {INTO}: {e}"))?;
        let pass =
            crate::dataplane::attach_standalone("pass", READ, lb_model::config::XdpMode::Native)
                .map_err(|e| format!("attaching pass to {READ}: {e}"))?;
        let read = index(READ).map_err(|e| format!("{READ}: {e}"))?;
        let socket = PacketSocket::bind(read, Duration::from_millis(500))
            .map_err(|e| format!("a packet socket on {READ}: {e}"))?;
        let mut p = Port {
            socket,
            _pass: pass,
            interfaces: interfaces.to_vec(),
            egress: Vec::new(),
            into: index(INTO).map_err(|e| format!("{INTO}: {e}"))?,
        };
        p.learn_egress();
        Ok(p)
    }

    fn learn_egress(&mut self) {
        self.egress = self
            .interfaces
            .iter()
            .filter_map(|i| Some((mac(i).ok()?, index(i).ok()?)))
            .collect();
    }

    /// The next control frame (None: none within half a second).
    pub fn recv(&self, buf: &mut Vec<u8>) -> io::Result<Option<()>> {
        self.socket.recv(buf)
    }

    /// Sends a frame out of the interface its source MAC belongs to (the one `lb` chose).
    pub fn send_on(&mut self, frame: &[u8]) -> io::Result<()> {
        let Some(smac) = frame.get(6..12) else {
            return Err(io::Error::other("a frame shorter than its Ethernet header"));
        };
        let find = |e: &[([u8; 6], u32)]| e.iter().find(|(m, _)| m[..] == *smac).map(|(_, i)| *i);
        let ifindex = match find(&self.egress) {
            Some(i) => i,
            None => {
                // An interface may have come back with another index.
                self.learn_egress();
                find(&self.egress).ok_or_else(|| {
                    io::Error::other(format!("no interface of lb has the MAC {smac:02x?}"))
                })?
            }
        };
        self.socket.send(ifindex, frame)
    }
}
