//! Pure text formatting of lbd's answers, byte-for-byte as ipvsadm 1.31 prints the kernel's
//! IPVS table (`ipvsadm.c`: `list_all`, `print_title`, `print_service_entry`,
//! `print_largenum`, `print_sched_flags`, `addrport_to_anyname`, `fwd_name`,
//! `protocol_name`; `libipvs.c`: `ipvs_cmp_services`, `ipvs_cmp_dests`).
//!
//! Nothing here does I/O: every function takes views and returns a `String`, so the golden
//! tests below pin the exact output. The C format strings each function reproduces are quoted
//! in its documentation.

use std::{
    cmp::Ordering,
    fmt::Write as _,
    net::{IpAddr, Ipv6Addr},
};

use lb_common::api::{RealServerView, ServiceView, StatsView, StatusView};

/// The IPVS version ipvsadm prints in its banner (`NVERSION(ipvs_info.version)`); every
/// kernel since 2.6.28 reports 1.2.1, and lbd stands in for that kernel.
pub const IPVS_VERSION: &str = "1.2.1";

/// How a listing is formatted: ipvsadm's `FMT_*` bits that apply to `-L` of a table lbd has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListFormat {
    /// `--stats` (`FMT_STATS`): counters instead of scheduler/forwarding/weight columns.
    pub stats: bool,
    /// `--exact` (`FMT_EXACT`): counters unabbreviated.
    pub exact: bool,
    /// `--nosort` (`FMT_NOSORT`): keep lbd's order instead of sorting.
    pub nosort: bool,
}

/// `list_all`: the banner, the title and every service with its real servers.
///
/// ```c
/// printf("IP Virtual Server version %d.%d.%d (size=%d)\n", NVERSION(ipvs_info.version), ipvs_info.size);
/// ```
pub fn list_all(services: &[ServiceView], conn_table_size: u32, fmt: ListFormat) -> String {
    let mut out = format!("IP Virtual Server version {IPVS_VERSION} (size={conn_table_size})\n");
    out.push_str(&title(fmt));
    let mut order: Vec<&ServiceView> = services.iter().collect();
    if !fmt.nosort {
        order.sort_by(|a, b| cmp_services(a, b));
    }
    for svc in order {
        out.push_str(&service_entry(svc, fmt));
    }
    out
}

/// `print_title`: the two header lines.
///
/// ```c
/// /* FMT_STATS */
/// printf("%-33s %8s %8s %8s %8s %8s\n"
///        "  -> RemoteAddress:Port\n",
///        "Prot LocalAddress:Port",
///        "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes");
/// /* default */
/// printf("Prot LocalAddress:Port Scheduler Flags\n"
///        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
/// ```
pub fn title(fmt: ListFormat) -> String {
    if fmt.stats {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else {
        format!(
            "Prot LocalAddress:Port Scheduler Flags\n  -> {:<28} Forward Weight ActiveConn InActConn\n",
            "RemoteAddress:Port"
        )
    }
}

/// `print_service_entry`: one service line, then its real servers (sorted unless `nosort`).
///
/// ```c
/// snprintf(svc_name, sizeof(svc_name), "%-4s %s", stype, vname);
/// if (se->af != AF_INET6) svc_name[33] = '\0';
/// /* FMT_STATS */   printf("%-33s", svc_name); print_largenum(conns) ... (outbytes);
/// /* default */     printf("%s %s", svc_name, se->sched_name);
///                   if (sched flags) { printf(" ("); print_sched_flags(se); printf(")"); }
///                   if (persistent)  printf(" persistent %u", se->timeout);
/// printf("\n");
/// /* each dest */   if (e->af != AF_INET6) dname[28] = '\0';
/// /* FMT_STATS */   printf("  -> %-28s", dname); print_largenum(...) x5; printf("\n");
/// /* default */     printf("  -> %-28s %-7s %-6d %-10u %-10u\n", dname,
///                          fwd_name(e->conn_flags), e->weight, e->activeconns, e->inactconns);
/// ```
///
/// lbd has no fwmark services, netmasks, persistence engines or one-packet scheduling, so
/// the `FWM`, ` mask`, ` pe` and ` ops` variants never arise.
pub fn service_entry(svc: &ServiceView, fmt: ListFormat) -> String {
    let mut svc_name = format!(
        "{:<4} {}",
        protocol_name(&svc.protocol),
        addrport(svc.vip, svc.port)
    );
    if !svc.vip.is_ipv6() {
        svc_name.truncate(33);
    }

    let mut out = String::new();
    if fmt.stats {
        let _ = write!(out, "{svc_name:<33}");
        push_stats(&mut out, &svc.stats, fmt.exact);
    } else {
        let _ = write!(out, "{svc_name} {}", svc.scheduler);
        if let Some(flags) = sched_flags(&svc.sched_flags) {
            let _ = write!(out, " ({flags})");
        }
        if let Some(timeout) = svc.persistent {
            let _ = write!(out, " persistent {timeout}");
        }
    }
    out.push('\n');

    let mut dests: Vec<&RealServerView> = svc.real_servers.iter().collect();
    if !fmt.nosort {
        dests.sort_by(|a, b| cmp_dests(a, b));
    }
    for rs in dests {
        let mut dname = addrport(rs.address, rs.port);
        if !rs.address.is_ipv6() {
            dname.truncate(28);
        }
        if fmt.stats {
            let _ = write!(out, "  -> {dname:<28}");
            push_stats(&mut out, &rs.stats, fmt.exact);
            out.push('\n');
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

/// `print_largenum`: a counter in a 9-column field, abbreviated past 8 digits.
///
/// ```c
/// if (format & FMT_EXACT) {
///         len = snprintf(mytmp, 32, "%llu", i);
///         printf("%*llu", len <= 8 ? 9 : len + 1, i);
///         return;
/// }
/// if (i < 100000000)                    printf("%9llu", i);
/// else if (i < 1000000000)              printf("%8lluK", i / 1000);
/// else if (i < 100000000000ULL)         printf("%8lluM", i / 1000000);
/// else if (i < 100000000000000ULL)      printf("%8lluG", i / 1000000000ULL);
/// else                                  printf("%8lluT", i / 1000000000000ULL);
/// ```
pub fn largenum(i: u64, exact: bool) -> String {
    if exact {
        let digits = i.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        return format!("{digits:>width$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

/// `protocol_name`: "TCP", "UDP", "SCTP", else "?".
pub fn protocol_name(protocol: &str) -> &'static str {
    match protocol_number(protocol) {
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        _ => "?",
    }
}

/// The IP protocol number ipvsadm sorts services by (`IPPROTO_IP` = 0 when unknown).
fn protocol_number(protocol: &str) -> u8 {
    match protocol.to_ascii_lowercase().as_str() {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        _ => 0,
    }
}

/// `fwd_name`: lbd's forwarding names ("tun", "dr", "nat", "local") as ipvsadm prints the
/// kernel's `IP_VS_CONN_F_*` methods. ipvsadm's own spellings are accepted too; anything
/// else is printed as lbd sent it (ipvsadm would print glibc's "(null)").
pub fn fwd_name(forwarding: &str) -> &str {
    match forwarding.to_ascii_lowercase().as_str() {
        "nat" | "masq" | "masquerading" => "Masq",
        "local" | "localnode" => "Local",
        "tun" | "tunnel" | "ipip" => "Tunnel",
        "dr" | "route" | "droute" | "gatewaying" => "Route",
        _ => forwarding,
    }
}

/// `print_sched_flags`: the flags comma-separated, in ipvsadm's order (`sh-fallback`,
/// `sh-port`, `mh-fallback`, `mh-port`, `flag-1`, `flag-2`, `flag-3`; names ipvsadm does not
/// know keep lbd's order after those). `None` when there are none: ipvsadm then prints no
/// parentheses at all.
pub fn sched_flags(flags: &[String]) -> Option<String> {
    const ORDER: [&str; 7] = [
        "sh-fallback",
        "sh-port",
        "mh-fallback",
        "mh-port",
        "flag-1",
        "flag-2",
        "flag-3",
    ];
    let mut flags: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .filter(|f| !f.is_empty())
        .collect();
    if flags.is_empty() {
        return None;
    }
    flags.sort_by_key(|f| ORDER.iter().position(|o| o == f).unwrap_or(ORDER.len()));
    flags.dedup();
    Some(flags.join(","))
}

/// `addrport_to_anyname` with `FMT_NUMERIC`:
/// `snprintf(buf, 60, "%s%s%s:%u", af == AF_INET ? "" : "[", inet_ntop(af, addr, ...),
/// af == AF_INET ? "" : "]", port)`.
pub fn addrport(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{}]:{port}", inet_ntop6(a)),
    }
}

/// glibc's `inet_ntop(AF_INET6, ...)`: the longest run (first on ties) of two or more zero
/// groups becomes `::`, groups in hex without leading zeros, and the last 32 bits as a dotted
/// quad when the zero run is exactly the first 6 groups (IPv4-compatible, `::a.b.c.d`) or the
/// first 5 groups followed by `ffff` (IPv4-mapped, `::ffff:a.b.c.d`). Rust's `Display`
/// differs on IPv4-compatible addresses (it prints `::102:304` for glibc's `::1.2.3.4`).
pub fn inet_ntop6(addr: Ipv6Addr) -> String {
    let words = addr.segments();

    // Longest run of zero words; a later run wins only if strictly longer.
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(match cur {
                Some((base, len)) => (base, len + 1),
                None => (i, 1),
            });
        } else {
            cur = None;
        }
        if let Some((base, len)) = cur
            && len > best_len
        {
            best_base = Some(base);
            best_len = len;
        }
    }
    if best_len < 2 {
        best_base = None;
    }

    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(base) = best_base
            && i >= base
            && i < base + best_len
        {
            if i == base {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))
        {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if let Some(base) = best_base
        && base + best_len == 8
    {
        out.push(':');
    }
    out
}

/// Address family rank as ipvsadm compares `af` (AF_INET = 2 before AF_INET6 = 10).
fn af_rank(addr: &IpAddr) -> u8 {
    if addr.is_ipv6() { 10 } else { 2 }
}

fn addr_bits(addr: &IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(*a).into(),
        IpAddr::V6(a) => u128::from(*a),
    }
}

/// `ipvs_cmp_services`: family, protocol number, address, port. ipvsadm subtracts the
/// addresses as unsigned 32-bit words and casts to `int`, which misorders addresses more than
/// 2^31 apart (it puts 192.168.0.1 before 10.0.0.1) and is not a total order; lbctl sorts
/// numerically instead.
fn cmp_services(a: &ServiceView, b: &ServiceView) -> Ordering {
    af_rank(&a.vip)
        .cmp(&af_rank(&b.vip))
        .then_with(|| protocol_number(&a.protocol).cmp(&protocol_number(&b.protocol)))
        .then_with(|| addr_bits(&a.vip).cmp(&addr_bits(&b.vip)))
        .then_with(|| a.port.cmp(&b.port))
}

/// `ipvs_cmp_dests`: address then port (IPv4 before IPv6 when a service mixes them), with
/// the same numeric-order caveat as [`cmp_services`].
fn cmp_dests(a: &RealServerView, b: &RealServerView) -> Ordering {
    af_rank(&a.address)
        .cmp(&af_rank(&b.address))
        .then_with(|| addr_bits(&a.address).cmp(&addr_bits(&b.address)))
        .then_with(|| a.port.cmp(&b.port))
}

/// `lbctl status`: a readable summary of lbd (not an ipvsadm format).
pub fn status(s: &StatusView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "lbd version {}", s.version);
    let _ = writeln!(
        out,
        "Interface:     {} (XDP {} mode)",
        s.interface, s.xdp_mode
    );
    let _ = writeln!(out, "Services:      {}", s.services);
    if s.services_down > 0 {
        let _ = writeln!(
            out,
            "Services down: {} (no real server can take new connections)",
            s.services_down
        );
    }
    let _ = writeln!(out, "Real servers:  {}", s.real_servers);
    let _ = writeln!(
        out,
        "Connections:   {} of {}",
        s.connections, s.connection_capacity
    );
    if !s.reasons.is_empty() {
        let name_w = s.reasons.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let count_w = s
            .reasons
            .iter()
            .map(|(_, c)| c.to_string().len())
            .max()
            .unwrap_or(0);
        out.push_str("Reasons:\n");
        for (name, count) in &s.reasons {
            let _ = writeln!(out, "  {name:<name_w$}  {count:>count_w$}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn stats(conns: u64, in_pkts: u64, out_pkts: u64, in_bytes: u64, out_bytes: u64) -> StatsView {
        StatsView {
            conns,
            in_pkts,
            out_pkts,
            in_bytes,
            out_bytes,
        }
    }

    fn rs(
        addr: &str,
        port: u16,
        fwd: &str,
        weight: u32,
        active: u64,
        inactive: u64,
        st: StatsView,
    ) -> RealServerView {
        RealServerView {
            address: addr.parse().unwrap(),
            port,
            forwarding: fwd.into(),
            weight,
            active_conns: active,
            inactive_conns: inactive,
            stats: st,
            health: None,
        }
    }

    /// Four services in an order ipvsadm would not print them in, with real servers likewise
    /// out of order.
    fn fixture() -> Vec<ServiceView> {
        vec![
            ServiceView {
                protocol: "tcp".into(),
                vip: "2001:db8::1".parse().unwrap(),
                port: 443,
                scheduler: "wlc".into(),
                sched_flags: vec![],
                persistent: Some(300),
                health: None,
                stats: stats(42, 1_000, 0, 65_536, 0),
                real_servers: vec![
                    rs(
                        "2001:db8::20",
                        443,
                        "dr",
                        5,
                        3,
                        17,
                        stats(20, 500, 0, 32_000, 0),
                    ),
                    rs(
                        "2001:db8::10",
                        443,
                        "tun",
                        10,
                        4,
                        9,
                        stats(22, 500, 0, 33_536, 0),
                    ),
                ],
            },
            ServiceView {
                protocol: "udp".into(),
                vip: "10.0.0.53".parse().unwrap(),
                port: 53,
                scheduler: "rr".into(),
                sched_flags: vec![],
                persistent: None,
                health: None,
                stats: stats(123_456_789, 999_999_999, 0, 99_999_999, 0),
                real_servers: vec![
                    rs(
                        "192.168.1.11",
                        53,
                        "dr",
                        1,
                        0,
                        1234,
                        stats(61_728_394, 0, 0, 0, 0),
                    ),
                    rs(
                        "192.168.1.10",
                        53,
                        "dr",
                        1,
                        0,
                        1233,
                        stats(61_728_395, 0, 0, 0, 0),
                    ),
                ],
            },
            ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 443,
                scheduler: "wlc".into(),
                sched_flags: vec![],
                persistent: Some(300),
                health: None,
                stats: stats(0, 0, 0, 0, 0),
                real_servers: vec![],
            },
            ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 80,
                scheduler: "mh".into(),
                sched_flags: vec!["mh-port".into(), "mh-fallback".into()],
                persistent: None,
                health: None,
                stats: stats(
                    1_234_567,
                    100_000_000,
                    1_000_000_000,
                    123_456_789_012,
                    200_000_000_000_000,
                ),
                real_servers: vec![
                    rs(
                        "192.168.1.20",
                        80,
                        "tun",
                        100,
                        12,
                        3456,
                        stats(1_000_000, 99_999_999, 0, 5_000_000_000, 0),
                    ),
                    rs(
                        "192.168.1.10",
                        8080,
                        "nat",
                        0,
                        0,
                        0,
                        stats(234_567, 1, 0, 2, 0),
                    ),
                    rs("10.1.0.5", 80, "dr", 1, 7, 0, stats(0, 0, 0, 0, 0)),
                    rs("127.0.0.1", 80, "local", 1, 0, 0, stats(0, 0, 0, 0, 0)),
                ],
            },
        ]
    }

    #[test]
    fn list_numeric() {
        let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 mh (mh-fallback,mh-port)
  -> 10.1.0.5:80                  Route   1      7          0         
  -> 127.0.0.1:80                 Local   1      0          0         
  -> 192.168.1.10:8080            Masq    0      0          0         
  -> 192.168.1.20:80              Tunnel  100    12         3456      
TCP  10.0.0.1:443 wlc persistent 300
UDP  10.0.0.53:53 rr
  -> 192.168.1.10:53              Route   1      0          1233      
  -> 192.168.1.11:53              Route   1      0          1234      
TCP  [2001:db8::1]:443 wlc persistent 300
  -> [2001:db8::10]:443           Tunnel  10     4          9         
  -> [2001:db8::20]:443           Route   5      3          17        
";
        assert_eq!(list_all(&fixture(), 4096, ListFormat::default()), expected);
    }

    #[test]
    fn list_numeric_stats() {
        let fmt = ListFormat {
            stats: true,
            ..Default::default()
        };
        let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.0.0.1:80                   1234567  100000K    1000M     123G     200T
  -> 10.1.0.5:80                         0        0        0        0        0
  -> 127.0.0.1:80                        0        0        0        0        0
  -> 192.168.1.10:8080              234567        1        0        2        0
  -> 192.168.1.20:80               1000000 99999999        0    5000M        0
TCP  10.0.0.1:443                        0        0        0        0        0
UDP  10.0.0.53:53                  123456K  999999K        0 99999999        0
  -> 192.168.1.10:53              61728395        0        0        0        0
  -> 192.168.1.11:53              61728394        0        0        0        0
TCP  [2001:db8::1]:443                  42     1000        0    65536        0
  -> [2001:db8::10]:443                 22      500        0    33536        0
  -> [2001:db8::20]:443                 20      500        0    32000        0
";
        assert_eq!(list_all(&fixture(), 4096, fmt), expected);
    }

    #[test]
    fn list_numeric_stats_exact() {
        let fmt = ListFormat {
            stats: true,
            exact: true,
            nosort: false,
        };
        let svc = &fixture()[3];
        let expected = "\
TCP  10.0.0.1:80                   1234567 100000000 1000000000 123456789012 200000000000000
  -> 10.1.0.5:80                         0        0        0        0        0
  -> 127.0.0.1:80                        0        0        0        0        0
  -> 192.168.1.10:8080              234567        1        0        2        0
  -> 192.168.1.20:80               1000000 99999999        0 5000000000        0
";
        assert_eq!(service_entry(svc, fmt), expected);
    }

    #[test]
    fn nosort_keeps_daemon_order() {
        let fmt = ListFormat {
            nosort: true,
            ..Default::default()
        };
        let services = fixture();
        let expected = "\
IP Virtual Server version 1.2.1 (size=65536)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  [2001:db8::1]:443 wlc persistent 300
  -> [2001:db8::20]:443           Route   5      3          17        
  -> [2001:db8::10]:443           Tunnel  10     4          9         
UDP  10.0.0.53:53 rr
  -> 192.168.1.11:53              Route   1      0          1234      
  -> 192.168.1.10:53              Route   1      0          1233      
";
        assert_eq!(list_all(&services[..2], 65536, fmt), expected);
    }

    #[test]
    fn empty_table() {
        assert_eq!(
            list_all(&[], 1048576, ListFormat::default()),
            "IP Virtual Server version 1.2.1 (size=1048576)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        );
        let fmt = ListFormat {
            stats: true,
            ..Default::default()
        };
        assert_eq!(
            list_all(&[], 0, fmt),
            "IP Virtual Server version 1.2.1 (size=0)\n\
             Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
             -> RemoteAddress:Port\n"
        );
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
        };
        assert_eq!(
            service_entry(&svc, ListFormat::default()),
            "UDP  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 sh (sh-port) persistent 3600\n  \
             -> [2001:db8:1234:5678:9abc:def0:1234:10]:65535 Tunnel  65535  0          0         \n"
        );
        let fmt = ListFormat {
            stats: true,
            ..Default::default()
        };
        assert_eq!(
            service_entry(&svc, fmt),
            "UDP  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535        1        2        3        4        5\n  \
             -> [2001:db8:1234:5678:9abc:def0:1234:10]:65535        1        2        3        4        5\n"
        );
    }

    #[test]
    fn largenum_boundaries() {
        let cases: [(u64, &str); 12] = [
            (0, "        0"),
            (99_999_999, " 99999999"),
            (100_000_000, "  100000K"),
            (999_999_999, "  999999K"),
            (1_000_000_000, "    1000M"),
            (99_999_999_999, "   99999M"),
            (100_000_000_000, "     100G"),
            (99_999_999_999_999, "   99999G"),
            (100_000_000_000_000, "     100T"),
            (u64::MAX, "18446744T"),
            (1_500_000, "  1500000"),
            (123_456_789, "  123456K"),
        ];
        for (n, want) in cases {
            let got = largenum(n, false);
            assert_eq!(got, want, "{n}");
        }
        assert_eq!(largenum(0, true), "        0");
        assert_eq!(largenum(12_345_678, true), " 12345678");
        assert_eq!(largenum(123_456_789, true), " 123456789");
        assert_eq!(largenum(u64::MAX, true), " 18446744073709551615");
    }

    #[test]
    fn forwarding_and_protocol_names() {
        assert_eq!(fwd_name("tun"), "Tunnel");
        assert_eq!(fwd_name("dr"), "Route");
        assert_eq!(fwd_name("nat"), "Masq");
        assert_eq!(fwd_name("local"), "Local");
        assert_eq!(fwd_name("weird"), "weird");
        assert_eq!(protocol_name("tcp"), "TCP");
        assert_eq!(protocol_name("UDP"), "UDP");
        assert_eq!(protocol_name("sctp"), "SCTP");
        assert_eq!(protocol_name("icmp"), "?");
    }

    #[test]
    fn sched_flags_in_ipvsadm_order() {
        assert_eq!(sched_flags(&[]), None);
        assert_eq!(sched_flags(&["".into()]), None);
        assert_eq!(
            sched_flags(&["sh-port".into(), "sh-fallback".into()]).as_deref(),
            Some("sh-fallback,sh-port")
        );
        assert_eq!(
            sched_flags(&["flag-3".into(), "flag-1".into()]).as_deref(),
            Some("flag-1,flag-3")
        );
    }

    #[test]
    fn ipv6_like_glibc_inet_ntop() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0:0:1::1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("fe80::", "fe80::"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ];
        for (input, want) in cases {
            let a: Ipv6Addr = input.parse().unwrap();
            assert_eq!(inet_ntop6(a), want, "{input}");
        }
        assert_eq!(
            addrport(IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)), 65535),
            "255.255.255.255:65535"
        );
        assert_eq!(
            addrport("::ffff:10.0.0.1".parse().unwrap(), 80),
            "[::ffff:10.0.0.1]:80"
        );
    }

    #[test]
    fn status_summary() {
        let s = StatusView {
            version: "0.1.0".into(),
            interface: "eth0".into(),
            xdp_mode: "native".into(),
            services: 2,
            real_servers: 5,
            connections: 17,
            connection_capacity: 65536,
            services_down: 0,
            reasons: vec![
                ("pass".into(), 1234),
                ("fwd_tunnel".into(), 5),
                ("drop".into(), 0),
            ],
        };
        assert_eq!(
            status(&s),
            "\
lbd version 0.1.0
Interface:     eth0 (XDP native mode)
Services:      2
Real servers:  5
Connections:   17 of 65536
Reasons:
  pass        1234
  fwd_tunnel     5
  drop           0
"
        );
        let down = StatusView {
            services_down: 1,
            reasons: vec![],
            ..s
        };
        assert_eq!(
            status(&down),
            "\
lbd version 0.1.0
Interface:     eth0 (XDP native mode)
Services:      2
Services down: 1 (no real server can take new connections)
Real servers:  5
Connections:   17 of 65536
"
        );
    }
}
