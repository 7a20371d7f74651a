//! Keeps the kernel's neighbour (ARP / NDP) entries for real servers resolved. The XDP program
//! takes next-hop MACs from `bpf_fib_lookup`, which cannot resolve a missing neighbour
//! itself (it answers NO_NEIGH and the packet is dropped, counted as `drop_fib_no_neigh`), so
//! lbd asks the kernel to resolve each real server by sending it one UDP datagram to the
//! discard port (9): for IPv4 whenever its ARP entry is missing (/proc/net/arp), for IPv6
//! (whose neighbour table /proc does not show) at start and then every 30 seconds.

use std::{
    net::{IpAddr, Ipv4Addr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tracing::{debug, warn};

/// IPv4 neighbours with a resolved MAC (`/proc/net/arp` flags has ATF_COM).
fn resolved() -> Vec<Ipv4Addr> {
    let Ok(t) = std::fs::read_to_string("/proc/net/arp") else {
        return Vec::new();
    };
    t.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(2)?.trim_start_matches("0x"), 16).ok()?;
            (flags & 0x2 != 0).then(|| f[0].parse().ok()).flatten()
        })
        .collect()
}

/// Probes the IPv4 real servers without a resolved entry (and, with `v6`, every IPv6 one);
/// returns the IPv4 ones that were missing.
fn probe(addrs: &[IpAddr], v6: bool) -> Vec<IpAddr> {
    let have = resolved();
    let missing: Vec<IpAddr> = addrs
        .iter()
        .filter(|a| match a {
            IpAddr::V4(a) => !have.contains(a),
            IpAddr::V6(_) => false,
        })
        .copied()
        .collect();
    let sock4 = UdpSocket::bind("0.0.0.0:0").ok();
    let sock6 = UdpSocket::bind("[::]:0").ok();
    for a in addrs {
        let s = match a {
            IpAddr::V4(_) if missing.contains(a) => sock4.as_ref(),
            IpAddr::V6(_) if v6 => sock6.as_ref(),
            _ => None,
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
    let mut first = true;
    loop {
        let missing = probe(addrs, first);
        first = false;
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

/// Re-resolves missing entries every few seconds until `stop`; `addrs` tells the real
/// servers' addresses each time.
pub fn keep_warm(addrs: impl Fn() -> Vec<IpAddr>, stop: Arc<AtomicBool>) {
    let mut round: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_secs(2));
        round = round.wrapping_add(1);
        probe(&addrs(), round.is_multiple_of(15));
    }
}
