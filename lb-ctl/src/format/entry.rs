//! `print_service_entry`: one service's line and its real servers' lines, in each variant of
//! `-L` (default, `--stats`, `--rate`, `--thresholds`, `--persistent-conn`, `--tun-info`).

use std::fmt::Write as _;

use lb_model::api::{RateView, ServiceView, StatsView};

use super::{
    address::{addrport_any, truncate},
    largenum::largenum,
    list_format::ListFormat,
    lookup::Resolve,
    names::{fwd_name, sched_flags, tun_info},
    service::{netmask, service_name},
    sort::sorted_dests,
};

/// `print_service_entry`: one service line, then its real servers (sorted unless `nosort`).
///
/// ```c
/// /* FMT_STATS */   printf("%-33s", svc_name); print_largenum(conns) ... (outbytes);
/// /* FMT_RATE */    printf("%-33s", svc_name); print_largenum(cps) ... (outbps);
/// /* otherwise */   printf("%s %s", svc_name, se->sched_name);
///                   if (sched flags) { printf(" ("); print_sched_flags(se); printf(")"); }
///                   if (persistent) {
///                           printf(" persistent %u", se->timeout);
///                           if (netmask is not one address) printf(" mask %s" | " mask %i", ...);
///                           if (se->pe_name[0]) printf(" pe %s", se->pe_name);
///                   }
///                   if (one-packet) printf(" ops");
/// printf("\n");
/// /* each dest */   if (e->af != AF_INET6) dname[28] = '\0';
/// /* FMT_STATS */   printf("  -> %-28s", dname); print_largenum(...) x5; printf("\n");
/// /* FMT_RATE */    printf("  -> %-28s %8llu %8llu %8llu", dname,
///                          e->stats64.cps, e->stats64.inpps, e->stats64.outpps);
///                   print_largenum(inbps); print_largenum(outbps); printf("\n");
/// /* FMT_THRESHOLDS */ printf("  -> %-28s %-10u %-10u %-10u %-10u\n", dname,
///                          e->u_threshold, e->l_threshold, e->activeconns, e->inactconns);
/// /* FMT_PERSISTENTCONN */ printf("  -> %-28s %-9u %-11u %-10u %-10u\n", dname,
///                          e->weight, e->persistconns, e->activeconns, e->inactconns);
/// /* FMT_TUN_INFO */ printf("  -> %-28s %-7s %-13s %-6d %-10u %-10u\n", dname,
///                          fwd_name(e->conn_flags), ti ? : "n/a", e->weight, ...);
/// /* default */     printf("  -> %-28s %-7s %-6d %-10u %-10u\n", dname,
///                          fwd_name(e->conn_flags), e->weight, e->activeconns, e->inactconns);
/// ```
pub fn service_entry(svc: &ServiceView, fmt: ListFormat, names: &dyn Resolve) -> String {
    let svc_name = service_name(svc, false, names);
    let mut out = String::new();
    if fmt.stats {
        let _ = write!(out, "{svc_name:<33}");
        push_stats(&mut out, &svc.stats, fmt.exact);
    } else if fmt.rate {
        let _ = write!(out, "{svc_name:<33}");
        push_rates(&mut out, &svc.rate, fmt.exact);
    } else {
        let _ = write!(out, "{svc_name} {}", svc.scheduler);
        if let Some(flags) = sched_flags(&svc.scheduler, &svc.sched_flags) {
            let _ = write!(out, " ({flags})");
        }
        if let Some(timeout) = svc.persistent {
            let _ = write!(out, " persistent {timeout}");
            if let Some(m) = netmask(svc) {
                let _ = write!(out, " mask {m}");
            }
            if let Some(pe) = &svc.pe_name {
                let _ = write!(out, " pe {pe}");
            }
        }
        if svc.one_packet {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    for rs in sorted_dests(svc, fmt.nosort) {
        let mut dname = addrport_any(rs.address, rs.port, &svc.protocol, names);
        if !rs.address.is_ipv6() {
            truncate(&mut dname, 28);
        }
        if fmt.stats {
            let _ = write!(out, "  -> {dname:<28}");
            push_stats(&mut out, &rs.stats, fmt.exact);
            out.push('\n');
        } else if fmt.rate {
            // Unlike the service's line, the real server's connection and packet rates are
            // never abbreviated: `printf("  -> %-28s %8llu %8llu %8llu", ...)`, and only
            // the byte rates go through `print_largenum`.
            let r = &rs.rate;
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                r.cps, r.in_pps, r.out_pps
            );
            out.push_str(&largenum(r.in_bps, fmt.exact));
            out.push_str(&largenum(r.out_bps, fmt.exact));
            out.push('\n');
        } else if fmt.thresholds {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                rs.upper_threshold, rs.lower_threshold, rs.active_conns, rs.inactive_conns
            );
        } else if fmt.persistent_conn {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                rs.weight, rs.persist_conns, rs.active_conns, rs.inactive_conns
            );
        } else if fmt.tun_info {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                fwd_name(&rs.forwarding),
                tun_info(rs).unwrap_or_else(|| "n/a".into()),
                rs.weight,
                rs.active_conns,
                rs.inactive_conns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                dname,
                fwd_name(&rs.forwarding),
                rs.weight,
                rs.active_conns,
                rs.inactive_conns
            );
        }
    }
    out
}

fn push_stats(out: &mut String, s: &StatsView, exact: bool) {
    for n in [s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes] {
        out.push_str(&largenum(n, exact));
    }
}

fn push_rates(out: &mut String, r: &RateView, exact: bool) {
    for n in [r.cps, r.in_pps, r.out_pps, r.in_bps, r.out_bps] {
        out.push_str(&largenum(n, exact));
    }
}

#[cfg(test)]
mod tests {
    use lb_model::api::{RealServerView, ServiceView};

    use super::*;
    use crate::format::{
        Numeric,
        fixtures::{fixture, port_zero_service, rate, rs, stats},
    };

    #[test]
    fn list_numeric_stats_exact() {
        let fmt = ListFormat {
            stats: true,
            exact: true,
            ..Default::default()
        };
        let svc = &fixture()[3];
        let expected = "\
TCP  10.0.0.1:80                   1234567 100000000 1000000000 123456789012 200000000000000
  -> 192.168.1.10:8080              234567        1        0        2        0
  -> 192.168.1.20:80               1000000 99999999        0 5000000000        0
  -> 10.1.0.5:80                         0        0        0        0        0
  -> 127.0.0.1:80                        0        0        0        0        0
";
        assert_eq!(service_entry(svc, fmt, &Numeric), expected);
    }

    #[test]
    fn long_ipv6_addresses_overflow_their_columns() {
        let svc = ServiceView {
            protocol: "udp".into(),
            vip: "2001:db8:1234:5678:9abc:def0:1234:5678".parse().unwrap(),
            port: 65535,
            scheduler: "sh".into(),
            sched_flags: vec!["sh-port".into()],
            persistent: Some(3600),
            health: None,
            stats: stats(1, 2, 3, 4, 5),
            real_servers: vec![rs(
                "2001:db8:1234:5678:9abc:def0:1234:10",
                65535,
                "tun",
                65535,
                0,
                0,
                stats(1, 2, 3, 4, 5),
            )],
            ..Default::default()
        };
        assert_eq!(
            service_entry(&svc, ListFormat::default(), &Numeric),
            "UDP  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 sh (sh-port) persistent 3600\n  \
             -> [2001:db8:1234:5678:9abc:def0:1234:10]:65535 Tunnel  65535  0          0         \n"
        );
        let fmt = ListFormat {
            stats: true,
            ..Default::default()
        };
        assert_eq!(
            service_entry(&svc, fmt, &Numeric),
            "UDP  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535        1        2        3        4        5\n  \
             -> [2001:db8:1234:5678:9abc:def0:1234:10]:65535        1        2        3        4        5\n"
        );
    }

    /// A port-0 service's header and real servers show port 0, as ipvsadm's do.
    #[test]
    fn a_port_zero_service_is_listed_with_port_zero() {
        assert_eq!(
            service_entry(&port_zero_service(), ListFormat::default(), &Numeric),
            "TCP  10.0.0.2:0 wlc persistent 300\n  \
             -> 10.1.0.5:0                   Route   1      0          0         \n"
        );
    }

    /// `print_service_entry` with `FMT_RATE`: the service's five rates through
    /// `print_largenum`, but a real server's CPS, InPPS and OutPPS with
    /// `printf(" %8llu %8llu %8llu")`: never abbreviated, wider than 8 digits as they come.
    #[test]
    fn real_server_rates_are_not_abbreviated() {
        let svc = ServiceView {
            protocol: "udp".into(),
            vip: "10.0.0.53".parse().unwrap(),
            port: 53,
            scheduler: "rr".into(),
            rate: rate(123_456_789, 1_234_567_890, 100_000_000, 123_456_789_012, 5),
            real_servers: vec![RealServerView {
                address: "10.1.0.1".parse().unwrap(),
                port: 53,
                forwarding: "dr".into(),
                weight: 1,
                rate: rate(123_456_789, 1_234_567_890, 100_000_000, 123_456_789_012, 5),
                ..Default::default()
            }],
            ..Default::default()
        };
        let fmt = ListFormat {
            rate: true,
            ..Default::default()
        };
        assert_eq!(
            service_entry(&svc, fmt, &Numeric),
            "UDP  10.0.0.53:53                  123456K    1234M  100000K     123G        5\n  \
             -> 10.1.0.1:53                  123456789 1234567890 100000000     123G        5\n"
        );
        let exact = ListFormat { exact: true, ..fmt };
        assert_eq!(
            service_entry(&svc, exact, &Numeric),
            "UDP  10.0.0.53:53                 123456789 1234567890 100000000 123456789012        5\n  \
             -> 10.1.0.1:53                  123456789 1234567890 100000000 123456789012        5\n"
        );
    }
}
