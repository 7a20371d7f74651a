//! `lbctl top`: one frame of the live view (lbctl's own format, not ipvsadm's): a summary of
//! lbd, then one line per service and one per real server with connections, rates, health
//! and drain state.

use std::fmt::Write as _;

use lb_model::api::{RealServerView, ServiceView, StatusView};

use super::{address::addrport, names::protocol_name};

/// Width of the address column of service lines, after the protocol's 5 (real-server lines
/// take both, as ipvsadm indents them).
const NAME_W: usize = 30;

/// What a frame shows besides lbd's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopFrame {
    /// Wall-clock time of the frame, seconds since the epoch (printed as UTC).
    pub unix_secs: u64,
    /// Time between frames, milliseconds.
    pub delay_ms: u64,
}

/// One frame: header lines, a blank line, the column titles, the services.
pub fn top(frame: TopFrame, status: &StatusView, services: &[ServiceView]) -> String {
    let mut out = String::new();
    let t = frame.unix_secs % 86_400;
    let _ = writeln!(
        out,
        "lbctl top - {:02}:{:02}:{:02} UTC, lbd {} on {} (XDP {}), every {}",
        t / 3600,
        t / 60 % 60,
        t % 60,
        status.version,
        status.interface,
        status.xdp_mode,
        seconds(frame.delay_ms),
    );
    let fill = if status.connection_capacity == 0 {
        0.0
    } else {
        status.connections as f64 * 100.0 / f64::from(status.connection_capacity)
    };
    let _ = writeln!(
        out,
        "Services: {}, {} down   Real servers: {}   Connections: {} of {} ({fill:.1}% full)",
        status.services,
        status.services_down,
        status.real_servers,
        status.connections,
        status.connection_capacity,
    );
    let sum = |f: fn(&ServiceView) -> u64| services.iter().map(f).sum::<u64>();
    let drops: u64 = status
        .reasons
        .iter()
        .filter(|(name, _)| name.starts_with("drop_"))
        .map(|(_, n)| n)
        .sum();
    let _ = writeln!(
        out,
        "Rates: {} conn/s, {} pkt/s in, {} pkt/s out, {} B/s in, {} B/s out   Dropped: {} packets",
        compact(sum(|s| s.rate.cps)),
        compact(sum(|s| s.rate.in_pps)),
        compact(sum(|s| s.rate.out_pps)),
        compact(sum(|s| s.rate.in_bps)),
        compact(sum(|s| s.rate.out_bps)),
        compact(drops),
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<5}{:<NAME_W$} {:<11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "PROT",
        "SERVICE / -> REAL SERVER",
        "STATE",
        "WEIGHT",
        "ACTIVE",
        "INACT",
        "CONN/S",
        "PKT/S>",
        "PKT/S<",
        "B/S>",
        "B/S<",
        "CONNS",
    );
    for s in services {
        let name = format!("{} {}", addrport(s.vip, s.port), s.scheduler);
        let (active, inactive) = s.real_servers.iter().fold((0, 0), |(a, i), r| {
            (a + r.active_conns, i + r.inactive_conns)
        });
        let _ = writeln!(
            out,
            "{:<5}{name:<NAME_W$} {:<11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            protocol_name(&s.protocol),
            service_state(s),
            "",
            compact(active),
            compact(inactive),
            compact(s.rate.cps),
            compact(s.rate.in_pps),
            compact(s.rate.out_pps),
            compact(s.rate.in_bps),
            compact(s.rate.out_bps),
            compact(s.stats.conns),
        );
        let w = 5 + NAME_W;
        for r in &s.real_servers {
            let name = format!("  -> {}", addrport(r.address, r.port));
            let _ = writeln!(
                out,
                "{name:<w$} {:<11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
                real_state(r),
                weight(r),
                compact(r.active_conns),
                compact(r.inactive_conns),
                compact(r.rate.cps),
                compact(r.rate.in_pps),
                compact(r.rate.out_pps),
                compact(r.rate.in_bps),
                compact(r.rate.out_bps),
                compact(r.stats.conns),
            );
        }
    }
    out
}

/// "up", "DOWN" (new connections dropped), "SORRY" (the sorry server takes them).
fn service_state(s: &ServiceView) -> &'static str {
    match &s.health {
        None => "?",
        Some(h) if h.up => "up",
        Some(h) if h.sorry_server_active => "SORRY",
        Some(_) => "DOWN",
    }
}

/// The health check's state, or the drain's ("drain 25s", "drained"), or "sorry".
fn real_state(r: &RealServerView) -> String {
    let Some(h) = &r.health else {
        return "?".into();
    };
    match h.draining {
        Some(d) if d.expired => "drained".into(),
        Some(d) => format!("drain {}s", d.remaining_secs),
        None if h.sorry_server => "sorry".into(),
        None => h.state.clone(),
    }
}

/// The weight scheduling uses, and the configured one when they differ: "0 (2)".
fn weight(r: &RealServerView) -> String {
    match &r.health {
        Some(h) if h.effective_weight != r.weight => {
            format!("{} ({})", h.effective_weight, r.weight)
        }
        _ => r.weight.to_string(),
    }
}

/// A count in at most 7 characters: as it is up to 99999, then with K, M, G, T (1000s).
fn compact(n: u64) -> String {
    if n < 100_000 {
        return n.to_string();
    }
    let mut v = n as f64;
    for unit in ["K", "M", "G", "T", "P"] {
        v /= 1000.0;
        if v < 1000.0 {
            return if v < 10.0 {
                format!("{v:.1}{unit}")
            } else {
                format!("{v:.0}{unit}")
            };
        }
    }
    format!("{:.0}E", v / 1000.0)
}

/// "2 s", "0.5 s".
fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use lb_model::api::{DrainView, RateView, RealHealthView, ServiceHealthView, StatsView};

    use super::*;

    fn real(addr: &str, weight: u32, health: RealHealthView) -> RealServerView {
        RealServerView {
            address: addr.parse().unwrap(),
            port: 80,
            forwarding: "tun".into(),
            weight,
            active_conns: 3,
            inactive_conns: 1,
            stats: StatsView {
                conns: 123_456,
                ..Default::default()
            },
            rate: RateView {
                cps: 12,
                in_pps: 40,
                out_pps: 0,
                in_bps: 2_500_000,
                out_bps: 0,
            },
            health: Some(health),
            ..Default::default()
        }
    }

    fn health(state: &str, effective_weight: u32, draining: Option<DrainView>) -> RealHealthView {
        RealHealthView {
            state: state.into(),
            effective_weight,
            sorry_server: false,
            check: None,
            draining,
        }
    }

    #[test]
    fn a_frame() {
        let status = StatusView {
            version: "0.1.0".into(),
            interface: "eth0".into(),
            interfaces: vec!["eth0".into()],
            xdp_mode: "native".into(),
            services: 1,
            real_servers: 2,
            connections: 8,
            connection_capacity: 65536,
            reasons: vec![
                ("tx".into(), 100),
                ("drop_no_real".into(), 2),
                ("drop_fib_no_neigh".into(), 1),
            ],
            services_down: 0,
        };
        let drain = DrainView {
            remaining_secs: 25,
            expired: false,
            connections: 4,
        };
        let services = vec![ServiceView {
            protocol: "tcp".into(),
            vip: "198.18.1.100".parse().unwrap(),
            port: 80,
            scheduler: "mh".into(),
            stats: StatsView {
                conns: 246_912,
                ..Default::default()
            },
            rate: RateView {
                cps: 24,
                in_pps: 80,
                out_pps: 0,
                in_bps: 5_000_000,
                out_bps: 0,
            },
            health: Some(ServiceHealthView {
                up: true,
                sorry_server_active: false,
                fallback: "drop".into(),
            }),
            real_servers: vec![
                real("198.18.0.11", 1, health("up", 1, None)),
                real("198.18.0.12", 2, health("up", 0, Some(drain))),
            ],
            ..Default::default()
        }];
        let frame = TopFrame {
            unix_secs: 1_795_000_000 + 3661,
            delay_ms: 500,
        };
        assert_eq!(
            top(frame, &status, &services),
            "lbctl top - 12:07:41 UTC, lbd 0.1.0 on eth0 (XDP native), every 0.5 s\n\
             Services: 1, 0 down   Real servers: 2   Connections: 8 of 65536 (0.0% full)\n\
             Rates: 24 conn/s, 80 pkt/s in, 0 pkt/s out, 5.0M B/s in, 0 B/s out   Dropped: 3 packets\n\
             \n\
             PROT SERVICE / -> REAL SERVER       STATE        WEIGHT  ACTIVE   INACT  CONN/S  PKT/S>  PKT/S<    B/S>    B/S<   CONNS\n\
             TCP  198.18.1.100:80 mh             up                        6       2      24      80       0    5.0M       0    247K\n  \
             -> 198.18.0.11:80                 up                1       3       1      12      40       0    2.5M       0    123K\n  \
             -> 198.18.0.12:80                 drain 25s     0 (2)       3       1      12      40       0    2.5M       0    123K\n"
        );
    }

    #[test]
    fn compact_numbers() {
        for (n, s) in [
            (0, "0"),
            (99_999, "99999"),
            (100_000, "100K"),
            (1_234_567, "1.2M"),
            (999_999_999, "1000M"),
            (u64::MAX, "18E"),
        ] {
            assert_eq!(compact(n), s, "{n}");
        }
    }
}
