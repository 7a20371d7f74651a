//! `lbctl proc FILE`: the text of IPVS's files in `/proc/net`, byte for byte as the kernel's
//! seq_file handlers print them (Linux 6.2 and later, whose counters are 64-bit), for scripts
//! that read those files:
//!
//! - `ip_vs` (`ip_vs_info_seq_show`, net/netfilter/ipvs/ip_vs_ctl.c): the table, addresses
//!   and ports in hexadecimal;
//! - `ip_vs_conn` (`ip_vs_conn_seq_show`, ip_vs_conn.c): connections and templates;
//! - `ip_vs_stats` (`ip_vs_stats_show`): the total counters and rates;
//! - `ip_vs_stats_percpu` (`ip_vs_stats_percpu_show`): the total counters CPU by CPU.
//!
//! The kernel's C format strings are quoted on each function.

use std::{fmt::Write as _, net::IpAddr};

use lb_model::api::{ConnView, RateView, ServiceView, StatsView};

use super::{
    names::{fwd_name, protocol_number},
    sort::sorted_dests,
};

/// `ip_vs_proto_name`: the kernel's protocol names.
fn proto_name(protocol: &str) -> String {
    match protocol_number(protocol) {
        6 => "TCP".into(),
        17 => "UDP".into(),
        132 => "SCTP".into(),
        0 => "IP".into(),
        n => format!("IP_{n}"),
    }
}

/// `%pI6`: the eight 16-bit groups in full, four lowercase hex digits each.
fn pi6(a: &std::net::Ipv6Addr) -> String {
    let s: Vec<String> = a.segments().iter().map(|g| format!("{g:04x}")).collect();
    s.join(":")
}

/// An address as the kernel prints it: `%08X` of `ntohl(addr)` for IPv4, `%pI6` for IPv6.
fn hex_addr(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => format!("{:08X}", u32::from(*v4)),
        IpAddr::V6(v6) => pi6(v6),
    }
}

/// `/proc/net/ip_vs` (`ip_vs_info_seq_show`), `size` the connection table's, `hz` the kernel's
/// `CONFIG_HZ` (the persistence timeout is printed in jiffies).
///
/// ```c
/// seq_printf(seq, "IP Virtual Server version %d.%d.%d (size=%d)\n", ...);
/// seq_puts(seq, "Prot LocalAddress:Port Scheduler Flags\n");
/// seq_puts(seq, "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n");
/// /* each service */
/// seq_printf(seq, "%s  [%pI6]:%04X %s ", proto, &svc->addr.in6, ntohs(port), sched_name);  /* IPv6 */
/// seq_printf(seq, "%s  %08X:%04X %s %s ", proto, ntohl(addr), ntohs(port), sched_name,
///            (svc->flags & IP_VS_SVC_F_ONEPACKET) ? "ops " : "");                      /* IPv4 */
/// seq_printf(seq, "FWM  %08X %s %s", svc->fwmark, sched_name, ops ? "ops " : "");     /* fwmark */
/// if (svc->flags & IP_VS_SVC_F_PERSISTENT)
///         seq_printf(seq, "persistent %d %08X\n", svc->timeout, ntohl(svc->netmask));
/// else
///         seq_putc(seq, '\n');
/// /* each destination, the service's list from its head (the newest first) */
/// seq_printf(seq, "  -> [%pI6]:%04X      %-7s %-6d %-10d %-10d\n", ...);  /* IPv6 */
/// seq_printf(seq, "  -> %08X:%04X      %-7s %-6d %-10d %-10d\n", ...);    /* IPv4 */
/// ```
///
/// `svc->timeout` is in jiffies (`u->timeout * HZ`), and `svc->netmask` of an IPv6 service
/// holds the prefix length as a host-order integer, which `ntohl` byte-swaps on a
/// little-endian machine (/128 prints as `80000000`): both as the kernel prints them.
pub fn ip_vs(services: &[ServiceView], size: u32, hz: u32) -> String {
    let mut out = format!(
        "IP Virtual Server version {} (size={size})\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n",
        super::list::IPVS_VERSION
    );
    for svc in services {
        let ops = if svc.one_packet { "ops " } else { "" };
        match (svc.fwmark, svc.vip) {
            (Some(mark), _) => {
                let _ = write!(out, "FWM  {mark:08X} {} {ops}", svc.scheduler);
            }
            (None, IpAddr::V6(a)) => {
                let _ = write!(
                    out,
                    "{}  [{}]:{:04X} {} ",
                    proto_name(&svc.protocol),
                    pi6(&a),
                    svc.port,
                    svc.scheduler
                );
            }
            (None, IpAddr::V4(_)) => {
                let _ = write!(
                    out,
                    "{}  {}:{:04X} {} {ops} ",
                    proto_name(&svc.protocol),
                    hex_addr(&svc.vip),
                    svc.port,
                    svc.scheduler
                );
            }
        }
        match svc.persistent {
            Some(timeout) => {
                let netmask = if svc.vip.is_ipv6() {
                    u32::from(svc.persistent_netmask.unwrap_or(128)).swap_bytes()
                } else {
                    let prefix = u32::from(svc.persistent_netmask.unwrap_or(32));
                    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
                };
                let jiffies = i64::from(timeout) * i64::from(hz);
                // `%d` of an int: the kernel's value wraps as C's does.
                let _ = writeln!(out, "persistent {} {netmask:08X}", jiffies as i32);
            }
            None => out.push('\n'),
        }
        for rs in sorted_dests(svc, true) {
            let addr = match rs.address {
                IpAddr::V6(a) => format!("[{}]", pi6(&a)),
                IpAddr::V4(_) => hex_addr(&rs.address),
            };
            let _ = writeln!(
                out,
                "  -> {addr}:{:04X}      {:<7} {:<6} {:<10} {:<10}",
                rs.port,
                fwd_name(&rs.forwarding),
                rs.weight as i32,
                rs.active_conns as i32,
                rs.inactive_conns as i32,
            );
        }
    }
    out
}

/// `/proc/net/ip_vs_conn` (`ip_vs_conn_seq_show`): lb has no persistence engines, so the
/// PEName and PEData columns stay empty.
///
/// ```c
/// seq_puts(seq,
///    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n");
/// /* dbuf: "%pI6" of an IPv6 real server, "%08X" of ntohl(daddr) for IPv4 */
/// seq_printf(seq, "%-3s %pI6 %04X %pI6 %04X %s %04X %-11s %7u%s\n", ...);  /* IPv6 */
/// seq_printf(seq, "%-3s %08X %04X %08X %04X %s %04X %-11s %7u%s\n", ...);  /* IPv4 */
/// ```
/// (the expiry in seconds: `jiffies_delta_to_msecs(cp->timer.expires - jiffies) / 1000`).
pub fn ip_vs_conn(conns: &[ConnView]) -> String {
    let mut out = String::from(
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n",
    );
    for c in conns {
        let _ = writeln!(
            out,
            "{:<3} {} {:04X} {} {:04X} {} {:04X} {:<11} {:>7}",
            proto_name(&c.protocol),
            hex_addr(&c.client),
            c.client_port,
            hex_addr(&c.vip),
            c.vport,
            hex_addr(&c.real),
            c.real_port,
            c.state,
            c.expires as u32,
        );
    }
    out
}

/// The sum of the per-CPU counters.
fn total(per_cpu: &[StatsView]) -> StatsView {
    per_cpu.iter().fold(StatsView::default(), |t, s| StatsView {
        conns: t.conns.wrapping_add(s.conns),
        in_pkts: t.in_pkts.wrapping_add(s.in_pkts),
        out_pkts: t.out_pkts.wrapping_add(s.out_pkts),
        in_bytes: t.in_bytes.wrapping_add(s.in_bytes),
        out_bytes: t.out_bytes.wrapping_add(s.out_bytes),
    })
}

/// `%8LX %8LX %8LX %16LX %16LX` of five counters.
fn five(out: &mut String, v: [u64; 5]) {
    let _ = write!(
        out,
        "{:8X} {:8X} {:8X} {:16X} {:16X}",
        v[0], v[1], v[2], v[3], v[4]
    );
}

fn counters(s: &StatsView) -> [u64; 5] {
    [s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes]
}

fn rates(r: &RateView) -> [u64; 5] {
    [r.cps, r.in_pps, r.out_pps, r.in_bps, r.out_bps]
}

/// `/proc/net/ip_vs_stats` (`ip_vs_stats_show`): the total counters (the per-CPU ones
/// summed) and rates.
///
/// ```c
/// seq_puts(seq, "   Total Incoming Outgoing         Incoming         Outgoing\n");
/// seq_puts(seq, "   Conns  Packets  Packets            Bytes            Bytes\n");
/// seq_printf(seq, "%8LX %8LX %8LX %16LX %16LX\n\n", conns, inpkts, outpkts, inbytes, outbytes);
/// seq_puts(seq, " Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n");
/// seq_printf(seq, "%8LX %8LX %8LX %16LX %16LX\n", cps, inpps, outpps, inbps, outbps);
/// ```
pub fn ip_vs_stats(per_cpu: &[StatsView], rate: &RateView) -> String {
    let mut out = String::from(
        "   Total Incoming Outgoing         Incoming         Outgoing\n   \
         Conns  Packets  Packets            Bytes            Bytes\n",
    );
    five(&mut out, counters(&total(per_cpu)));
    out.push_str("\n\n Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n");
    five(&mut out, rates(rate));
    out.push('\n');
    out
}

/// `/proc/net/ip_vs_stats_percpu` (`ip_vs_stats_percpu_show`): the counters of each possible
/// CPU, their total and the rates.
///
/// ```c
/// seq_puts(seq, "       Total Incoming Outgoing         Incoming         Outgoing\n");
/// seq_puts(seq, "CPU    Conns  Packets  Packets            Bytes            Bytes\n");
/// for_each_possible_cpu(i)
///         seq_printf(seq, "%3X %8LX %8LX %8LX %16LX %16LX\n", i, conns, inpkts, ...);
/// seq_printf(seq, "  ~ %8LX %8LX %8LX %16LX %16LX\n\n", total conns, ...);
/// seq_puts(seq, "     Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n");
/// seq_printf(seq, "    %8LX %8LX %8LX %16LX %16LX\n", cps, inpps, outpps, inbps, outbps);
/// ```
pub fn ip_vs_stats_percpu(per_cpu: &[StatsView], rate: &RateView) -> String {
    let mut out = String::from(
        "       Total Incoming Outgoing         Incoming         Outgoing\n\
         CPU    Conns  Packets  Packets            Bytes            Bytes\n",
    );
    for (i, s) in per_cpu.iter().enumerate() {
        let _ = write!(out, "{i:3X} ");
        five(&mut out, counters(s));
        out.push('\n');
    }
    out.push_str("  ~ ");
    five(&mut out, counters(&total(per_cpu)));
    out.push_str("\n\n     Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n    ");
    five(&mut out, rates(rate));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use lb_model::api::RealServerView;

    use super::*;
    use crate::format::fixtures::conn;

    fn real(
        addr: &str,
        port: u16,
        fwd: &str,
        weight: u32,
        active: u64,
        inact: u64,
    ) -> RealServerView {
        RealServerView {
            address: addr.parse().unwrap(),
            port,
            forwarding: fwd.into(),
            weight,
            active_conns: active,
            inactive_conns: inact,
            ..Default::default()
        }
    }

    /// Each line as the kernel's format strings make it, written out by hand from them.
    #[test]
    fn ip_vs_as_the_kernel_prints_it() {
        let services = vec![
            ServiceView {
                protocol: "tcp".into(),
                vip: "192.168.0.1".parse().unwrap(),
                port: 80,
                scheduler: "rr".into(),
                // Added in this order: the kernel lists the newest first.
                real_servers: vec![
                    real("172.16.0.1", 80, "nat", 1, 7, 2),
                    real("172.16.0.2", 8080, "nat", 65535, 0, 1234567),
                ],
                ..Default::default()
            },
            ServiceView {
                protocol: "udp".into(),
                vip: "10.0.0.53".parse().unwrap(),
                port: 53,
                scheduler: "sh".into(),
                one_packet: true,
                persistent: Some(600),
                persistent_netmask: Some(24),
                real_servers: vec![real("10.1.0.1", 53, "dr", 2, 0, 0)],
                ..Default::default()
            },
            ServiceView {
                protocol: "tcp".into(),
                vip: "2001:db8::1".parse().unwrap(),
                port: 443,
                scheduler: "wlc".into(),
                persistent: Some(300),
                real_servers: vec![
                    real("2001:db8::10", 443, "tun", 10, 4, 9),
                    real("198.18.0.11", 443, "tun", 0, 1, 0),
                ],
                ..Default::default()
            },
            ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.2".parse().unwrap(),
                port: 21,
                scheduler: "twos".into(),
                persistent: Some(300),
                real_servers: vec![],
                ..Default::default()
            },
        ];
        let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80001:0050 rr  
  -> AC100002:1F90      Masq    65535  0          1234567   
  -> AC100001:0050      Masq    1      7          2         
UDP  0A000035:0035 sh ops  persistent 150000 FFFFFF00
  -> 0A010001:0035      Route   2      0          0         
TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:01BB wlc persistent 75000 80000000
  -> C612000B:01BB      Tunnel  0      1          0         
  -> [2001:0db8:0000:0000:0000:0000:0000:0010]:01BB      Tunnel  10     4          9         
TCP  0A000002:0015 twos  persistent 75000 FFFFFFFF
";
        assert_eq!(ip_vs(&services, 4096, 250), expected);
        // HZ=1000: the timeout in jiffies follows.
        assert!(ip_vs(&services[3..], 4096, 1000).ends_with("twos  persistent 300000 FFFFFFFF\n"));
        // A firewall-mark service.
        let fwm = ServiceView {
            fwmark: Some(7),
            scheduler: "wlc".into(),
            ..Default::default()
        };
        assert!(ip_vs(&[fwm], 0, 250).ends_with("InActConn\nFWM  00000007 wlc \n"));
    }

    #[test]
    fn ip_vs_conn_as_the_kernel_prints_it() {
        let conns = vec![
            conn(
                "tcp",
                "ESTABLISHED",
                899,
                ("198.18.0.10", 40312),
                ("192.168.0.1", 80),
                ("172.16.0.1", 80),
            ),
            conn(
                "udp",
                "UDP",
                12,
                ("198.18.0.10", 5353),
                ("10.0.0.53", 53),
                ("10.1.0.1", 53),
            ),
            conn(
                "tcp",
                "NONE",
                300,
                ("198.18.0.0", 0),
                ("192.168.0.1", 80),
                ("172.16.0.2", 8080),
            ),
            conn(
                "tcp",
                "SYN_RECV",
                1234567,
                ("2001:db8::7", 1),
                ("2001:db8::1", 443),
                ("198.18.0.11", 443),
            ),
        ];
        let expected = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C612000A 9D78 C0A80001 0050 AC100001 0050 ESTABLISHED     899
UDP C612000A 14E9 0A000035 0035 0A010001 0035 UDP              12
TCP C6120000 0000 C0A80001 0050 AC100002 1F90 NONE            300
TCP 2001:0db8:0000:0000:0000:0000:0000:0007 0001 2001:0db8:0000:0000:0000:0000:0000:0001 01BB C612000B 01BB SYN_RECV    1234567
";
        assert_eq!(ip_vs_conn(&conns), expected);
    }

    fn stats(c: u64, ip: u64, op: u64, ib: u64, ob: u64) -> StatsView {
        StatsView {
            conns: c,
            in_pkts: ip,
            out_pkts: op,
            in_bytes: ib,
            out_bytes: ob,
        }
    }

    #[test]
    fn ip_vs_stats_as_the_kernel_prints_it() {
        let per_cpu = vec![
            stats(10, 100, 90, 15000, 120000),
            stats(6, 0x1_0000_0000, 0, 1, 0),
        ];
        let rate = RateView {
            cps: 3,
            in_pps: 20,
            out_pps: 18,
            in_bps: 3000,
            out_bps: 0xABCDEF,
        };
        let expected = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
      10 100000064       5A             3A99            1D4C0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       3       14       12              BB8           ABCDEF
";
        assert_eq!(ip_vs_stats(&per_cpu, &rate), expected);
        let expected = "       Total Incoming Outgoing         Incoming         Outgoing
CPU    Conns  Packets  Packets            Bytes            Bytes
  0        A       64       5A             3A98            1D4C0
  1        6 100000000        0                1                0
  ~       10 100000064       5A             3A99            1D4C0

     Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
           3       14       12              BB8           ABCDEF
";
        assert_eq!(ip_vs_stats_percpu(&per_cpu, &rate), expected);
    }
}
