//! A flood of first packets for the live tests: distinct-tuple TCP SYNs or UDP datagrams to a
//! VIP, written as whole Ethernet frames to a namespace's interface through AF_PACKET from
//! several threads (pinned round-robin to the CPUs), paced to a rate and bounded in count and
//! time.
//!
//! The sources are spoofed from [`FLOOD_NET`], which no namespace routes: the real servers
//! cannot answer them, so the flood adds no traffic of its own beyond what it sends to the
//! VIP.

use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::{
    netns::Netns,
    packet::{IPPROTO_TCP, IPPROTO_UDP, TCP_SYN, eth_ip, tcp_ip, udp_ip},
};

/// The flood's sources: 198.18.64.0/18, routed nowhere (see the module's doc).
pub const FLOOD_NET: Ipv4Addr = Ipv4Addr::new(198, 18, 64, 0);

/// Source address and port of flood tuple `t` (distinct for every `t` below 2^26): the
/// address's low 14 bits are `t >> 12`, the port is 1024 + `t`'s low 12 bits.
pub fn flood_tuple(t: u32) -> (Ipv4Addr, u16) {
    let addr = Ipv4Addr::from(u32::from(FLOOD_NET) | ((t >> 12) & 0x3fff));
    (addr, 1024 + (t & 0xfff) as u16)
}

/// What to send.
#[derive(Clone, Debug)]
pub struct Flood {
    /// `IPPROTO_TCP` (SYNs) or `IPPROTO_UDP` (empty datagrams).
    pub proto: u8,
    pub dst: Ipv4Addr,
    pub dport: u16,
    /// How many packets, tuples 0 .. count.
    pub count: u32,
    /// Packets per second, all threads together.
    pub rate: u32,
    /// The flood gives up (and says so) after this long.
    pub limit: Duration,
    pub threads: usize,
    /// The frames' MACs: the next hop (the director's interface) and the sender's.
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
}

/// What a flood did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Frames the sending interface took (a frame it refused for a full queue, ENOBUFS, is
    /// sent again).
    pub frames: u64,
    /// Times a frame was refused and sent again.
    pub retries: u64,
    pub elapsed: Duration,
}

impl Flood {
    /// The frame of tuple `t`.
    pub fn frame(&self, t: u32) -> Vec<u8> {
        let (src, sport) = flood_tuple(t);
        let ip = if self.proto == IPPROTO_TCP {
            tcp_ip(src, self.dst, sport, self.dport, TCP_SYN, &[])
        } else {
            assert_eq!(self.proto, IPPROTO_UDP, "a flood is of TCP or UDP");
            udp_ip(src, self.dst, sport, self.dport, &[])
        };
        eth_ip(self.dst_mac, self.src_mac, &ip)
    }

    /// Sends the flood out of `dev` in `ns`: thread k sends the tuples k, k + threads, ...,
    /// each thread pinned to CPU k modulo the CPUs and paced to its share of the rate.
    /// Returns when every frame is sent; panics when the flood takes longer than its limit.
    pub fn send(&self, ns: &Netns, dev: &str) -> Sent {
        let ifindex = ns.ifindex(dev);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let frames = AtomicU64::new(0);
        let retries = AtomicU64::new(0);
        let t0 = Instant::now();
        std::thread::scope(|scope| {
            for k in 0..self.threads {
                let (frames, retries) = (&frames, &retries);
                let ns_name = ns.name.clone();
                scope.spawn(move || {
                    crate::pin_to_cpu(k % cpus);
                    let ns = Netns { name: ns_name };
                    let _in = ns.enter();
                    std::mem::forget(ns); // the caller owns the namespace
                    let sock = PacketSocket::open(ifindex);
                    let share = self.rate as f64 / self.threads as f64;
                    let start = Instant::now();
                    let mut n = 0u64;
                    let mut t = k as u32;
                    while t < self.count {
                        let f = self.frame(t);
                        loop {
                            match sock.send(&f) {
                                Ok(()) => break,
                                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                                    retries.fetch_add(1, Ordering::Relaxed);
                                    std::thread::sleep(Duration::from_micros(50));
                                }
                                Err(e) => panic!("flood: sending tuple {t}: {e}"),
                            }
                            assert!(
                                t0.elapsed() < self.limit,
                                "flood: not sent within {:?}",
                                self.limit
                            );
                        }
                        frames.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                        t += self.threads as u32;
                        // Pacing, every 64 frames: ahead of the schedule, wait for it.
                        if n.is_multiple_of(64) {
                            let due = Duration::from_secs_f64(n as f64 / share);
                            let spent = start.elapsed();
                            if due > spent {
                                std::thread::sleep(due - spent);
                            }
                            assert!(
                                t0.elapsed() < self.limit,
                                "flood: not sent within {:?} ({} of {} frames)",
                                self.limit,
                                frames.load(Ordering::Relaxed),
                                self.count
                            );
                        }
                    }
                });
            }
        });
        Sent {
            frames: frames.load(Ordering::Relaxed),
            retries: retries.load(Ordering::Relaxed),
            elapsed: t0.elapsed(),
        }
    }
}

/// An AF_PACKET socket that sends whole frames out of one interface and receives nothing
/// (protocol 0). Closed on Drop.
pub(crate) struct PacketSocket {
    fd: libc::c_int,
    ifindex: u32,
}

impl PacketSocket {
    pub(crate) fn open(ifindex: u32) -> Self {
        // SAFETY: plain socket calls; the fd is owned by the returned value; errors checked.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let s = PacketSocket { fd, ifindex };
            let sa = s.addr();
            let rc = libc::bind(
                fd,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(rc, 0, "AF_PACKET bind: {}", std::io::Error::last_os_error());
            s
        }
    }

    fn addr(&self) -> libc::sockaddr_ll {
        // SAFETY: sockaddr_ll is plain integers; all-zero is valid.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = self.ifindex as i32;
        sa
    }

    pub(crate) fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        // SAFETY: the frame is a live buffer of its length; the fd is ours.
        let n = unsafe {
            libc::send(
                self.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        assert_eq!(n as usize, frame.len(), "AF_PACKET sent part of a frame");
        Ok(())
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: our own fd, closed once.
        unsafe { libc::close(self.fd) };
    }
}
