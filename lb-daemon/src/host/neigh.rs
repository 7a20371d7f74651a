//! Keeps the kernel's neighbour (ARP / NDP) entries for real servers resolved. The XDP program
//! takes next-hop MACs from `bpf_fib_lookup`, which cannot resolve a missing neighbour itself
//! (it answers NO_NEIGH: a `nat` or `tun` packet then goes to the kernel, counted as
//! `pass_no_neigh`; a `dr` one is dropped, counted as `drop_fib_no_neigh`), so lbd asks the kernel to
//! resolve each real server that has no usable entry by sending it one UDP datagram to the
//! discard port (9).
//!
//! Which entries exist lbd learns by rtnetlink (`netlink.rs`), for both families: a dump
//! when it looks, and the kernel's link and neighbour notifications in between, so that a
//! real server whose entry goes (a link flap flushes them all) or fails is probed again at
//! once, and every real server when a link comes back up, rather than at the next 2-second
//! round. And `lb` itself reports each `dr` packet it drops for want of a real server's
//! entry (the ring buffer `lb_neigh_miss`): that real server is probed at once too.
//! (A `tun` packet without a neighbour entry is handed to the kernel, which resolves it.)

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket},
    os::fd::AsFd,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use aya::maps::{MapData, RingBuf};
use lb_common::{FAMILY_V6, NeighMiss};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use tracing::{debug, info, warn};

use super::netlink::{self, Event, Events};

/// Neighbours with a MAC the FIB lookup accepts, of both families.
fn resolved() -> HashSet<IpAddr> {
    match netlink::neighbours() {
        Ok(n) => n.into_iter().filter(|n| n.usable).map(|n| n.addr).collect(),
        Err(e) => {
            warn!("reading the neighbour tables (rtnetlink): {e}");
            HashSet::new()
        }
    }
}

/// Probes the real servers without a usable entry; returns them.
fn probe(addrs: &[IpAddr]) -> Vec<IpAddr> {
    let have = resolved();
    let missing: Vec<IpAddr> = addrs
        .iter()
        .filter(|a| !have.contains(a))
        .copied()
        .collect();
    if missing.is_empty() {
        return missing;
    }
    let pokes = Pokes::new();
    for a in &missing {
        pokes.send(*a);
    }
    missing
}

/// Sockets to send the datagrams that have the kernel resolve a neighbour.
struct Pokes {
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
}

impl Pokes {
    fn new() -> Self {
        Self {
            v4: UdpSocket::bind("0.0.0.0:0").ok(),
            v6: UdpSocket::bind("[::]:0").ok(),
        }
    }

    /// One empty datagram to the discard port of `a`: the kernel resolves `a`'s neighbour
    /// entry to send it (and queues it meanwhile).
    fn send(&self, a: IpAddr) {
        let s = match a {
            IpAddr::V4(_) => self.v4.as_ref(),
            IpAddr::V6(_) => self.v6.as_ref(),
        };
        if let Some(s) = s {
            debug!(%a, "resolving real server's neighbour entry");
            let _ = s.send_to(b"", (a, 9));
        }
    }
}

/// Resolves every real server before traffic arrives, waiting up to two seconds.
pub fn warm_initial(addrs: &[IpAddr]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let missing = probe(addrs);
        if missing.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            warn!(
                ?missing,
                "no neighbour entry yet for these real servers; retrying in the background"
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How often the real servers' entries are checked when no notification says anything.
const ROUND: Duration = Duration::from_secs(2);

/// Keeps the real servers resolved until `stop`: at every link and neighbour notification
/// that may concern them, and every [`ROUND`] otherwise. `addrs` tells the real servers'
/// addresses each time.
pub fn keep_warm(addrs: impl Fn() -> Vec<IpAddr>, stop: Arc<AtomicBool>) {
    let events = match Events::subscribe() {
        Ok(e) => Some(e),
        Err(e) => {
            warn!("no rtnetlink notifications ({e}): checking neighbour entries every 2 s only");
            None
        }
    };
    let mut last_round = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let wait = ROUND.saturating_sub(last_round.elapsed());
        let now_too = match &events {
            None => {
                std::thread::sleep(wait);
                false
            }
            Some(ev) => match ev.next(wait) {
                Ok(changes) => concerns(&changes, &addrs()),
                Err(e) => {
                    // Lost notifications: look at everything now.
                    debug!("rtnetlink notifications: {e}");
                    true
                }
            },
        };
        if now_too || last_round.elapsed() >= ROUND {
            probe(&addrs());
            last_round = Instant::now();
        }
    }
}

/// How long a real server reported missing is not probed again: its resolution (one ARP or
/// neighbour solicitation round trip) is under way, and the packets that keep meeting the
/// missing entry meanwhile need no more datagrams.
const MISS_HOLDOFF: Duration = Duration::from_millis(100);

/// The address in a [`NeighMiss`] record.
fn miss_addr(m: &NeighMiss) -> IpAddr {
    if m.family == FAMILY_V6 {
        let mut b = [0u8; 16];
        for (i, w) in m.addr.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&w.to_ne_bytes());
        }
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::from_be(m.addr[0])))
    }
}

/// Until `stop`: reads the real servers whose missing neighbour entry made `lb` drop a `dr`
/// packet (the ring buffer `lb_neigh_miss`) and has the kernel resolve each at once, so that
/// the client's next retransmission is forwarded. This covers what no notification
/// announces (an entry that failed while the real server was away, a real server just
/// added, notifications lost), which the 2-second round would otherwise find late.
pub fn resolve_misses(mut ring: RingBuf<MapData>, stop: Arc<AtomicBool>) {
    let pokes = Pokes::new();
    let mut recent: HashMap<IpAddr, Instant> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        {
            let mut fds = [PollFd::new(ring.as_fd(), PollFlags::POLLIN)];
            // A failed or interrupted poll is a round without records.
            let _ = poll(&mut fds, PollTimeout::from(250u16));
        }
        let mut missed = Vec::new();
        while let Some(item) = ring.next() {
            if item.len() < std::mem::size_of::<NeighMiss>() {
                continue;
            }
            // SAFETY: a NeighMiss written by `lb` (size checked above).
            let m: NeighMiss = unsafe { (item.as_ptr() as *const NeighMiss).read_unaligned() };
            missed.push(miss_addr(&m));
        }
        let now = Instant::now();
        recent.retain(|_, t| now.duration_since(*t) < MISS_HOLDOFF);
        for a in missed {
            if recent.insert(a, now).is_none() {
                info!(%a, "dr packet dropped for want of the real server's neighbour entry: resolving it");
                pokes.send(a);
            }
        }
    }
}

/// Whether `changes` call for looking at the real servers' entries now: a link came up (or
/// changed), or a real server's entry went or became unusable.
fn concerns(changes: &[Event], reals: &[IpAddr]) -> bool {
    changes.iter().any(|c| match c {
        Event::Link(l) => {
            if l.up {
                info!(interface = %l.name, "link up: resolving the real servers again");
            }
            l.up
        }
        Event::LinkGone(_) => false,
        Event::NeighbourGone(a) => reals.contains(a),
        Event::Neighbour(n) => !n.usable && reals.contains(&n.addr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::netlink::{Link, Neighbour};

    #[test]
    fn a_miss_record_names_its_real_servers_address() {
        let v4 = NeighMiss {
            addr: [u32::from(Ipv4Addr::new(172, 16, 0, 1)).to_be(), 0, 0, 0],
            real: 3,
            family: lb_common::FAMILY_V4,
            _pad: [0; 3],
        };
        assert_eq!(miss_addr(&v4), "172.16.0.1".parse::<IpAddr>().unwrap());
        let a: Ipv6Addr = "2001:db8:0:a::2".parse().unwrap();
        let o = a.octets();
        let mut addr = [0u32; 4];
        for (i, w) in addr.iter_mut().enumerate() {
            *w = u32::from_ne_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
        }
        let v6 = NeighMiss {
            addr,
            real: 4,
            family: FAMILY_V6,
            _pad: [0; 3],
        };
        assert_eq!(miss_addr(&v6), IpAddr::V6(a));
    }

    #[test]
    fn links_coming_up_and_real_servers_losing_their_entries_call_for_a_probe() {
        let reals: Vec<IpAddr> = vec!["172.16.0.1".parse().unwrap()];
        let rs = reals[0];
        let other: IpAddr = "192.168.0.2".parse().unwrap();
        let link = |up| {
            Event::Link(Link {
                index: 2,
                name: "eth0".into(),
                mtu: 1500,
                up,
                xdp: None,
            })
        };
        let neigh = |addr, usable| {
            Event::Neighbour(Neighbour {
                addr,
                ifindex: 2,
                usable,
            })
        };
        assert!(concerns(&[link(true)], &reals));
        assert!(!concerns(&[link(false)], &reals));
        assert!(concerns(&[Event::NeighbourGone(rs)], &reals));
        assert!(!concerns(&[Event::NeighbourGone(other)], &reals));
        assert!(concerns(&[neigh(rs, false)], &reals));
        assert!(!concerns(&[neigh(rs, true)], &reals));
        assert!(!concerns(&[neigh(other, false)], &reals));
        assert!(!concerns(&[], &reals));
    }
}
