//! Keeps the kernel's neighbour (ARP / NDP) entries for real servers resolved. The XDP program
//! takes next-hop MACs from `bpf_fib_lookup`, which cannot resolve a missing neighbour itself
//! (it answers NO_NEIGH: a `nat` packet then goes to the kernel, counted as `pass_no_neigh`;
//! `dr` and `tun` ones are dropped, counted as `drop_fib_no_neigh`), so lbd asks the kernel to
//! resolve each real server that has no usable entry by sending it one UDP datagram to the
//! discard port (9).
//!
//! Which entries exist lbd learns by rtnetlink (`netlink.rs`), for both families: a dump
//! when it looks, and the kernel's link and neighbour notifications in between, so that a
//! real server whose entry goes (a link flap flushes them all) or fails is probed again at
//! once, and every real server when a link comes back up, rather than at the next 2-second
//! round.

use std::{
    collections::HashSet,
    net::{IpAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

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
    let sock4 = UdpSocket::bind("0.0.0.0:0").ok();
    let sock6 = UdpSocket::bind("[::]:0").ok();
    for a in &missing {
        let s = match a {
            IpAddr::V4(_) => sock4.as_ref(),
            IpAddr::V6(_) => sock6.as_ref(),
        };
        if let Some(s) = s {
            debug!(%a, "resolving real server's neighbour entry");
            let _ = s.send_to(b"", (*a, 9));
        }
    }
    missing
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
