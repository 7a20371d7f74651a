//! `-L`: the banner, the title and every service with its real servers (the lines of one
//! service are [`super::entry`]'s).

use lb_model::api::ServiceView;

use super::{entry::service_entry, list_format::ListFormat, lookup::Resolve, sort::sorted};

/// The IPVS version ipvsadm prints in its banner (`NVERSION(ipvs_info.version)`); every
/// kernel since 2.6.28 reports 1.2.1, and lbd stands in for that kernel.
pub const IPVS_VERSION: &str = "1.2.1";

/// `list_all`: the banner, the title and every service with its real servers.
///
/// ```c
/// printf("IP Virtual Server version %d.%d.%d (size=%d)\n", NVERSION(ipvs_info.version), ipvs_info.size);
/// ```
pub fn list_all(
    services: &[ServiceView],
    conn_table_size: u32,
    fmt: ListFormat,
    names: &dyn Resolve,
) -> String {
    let mut out = format!("IP Virtual Server version {IPVS_VERSION} (size={conn_table_size})\n");
    out.push_str(&title(fmt));
    for svc in sorted(services, fmt.nosort) {
        out.push_str(&service_entry(svc, fmt, names));
    }
    out
}

/// `list_service` (`-L -t VIP:PORT`): the title and one service, no banner.
pub fn list_service(svc: &ServiceView, fmt: ListFormat, names: &dyn Resolve) -> String {
    let mut out = title(fmt);
    out.push_str(&service_entry(svc, fmt, names));
    out
}

/// `print_title`: the two header lines.
///
/// ```c
/// if (format & FMT_STATS)
///         printf("%-33s %8s %8s %8s %8s %8s\n"
///                "  -> RemoteAddress:Port\n",
///                "Prot LocalAddress:Port",
///                "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes");
/// else if (format & FMT_RATE)
///         printf(/* the same */ ..., "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS");
/// else if (format & FMT_THRESHOLDS)
///         printf("%-33s %-10s %-10s %-10s %-10s\n"
///                "  -> RemoteAddress:Port\n",
///                "Prot LocalAddress:Port",
///                "Uthreshold", "Lthreshold", "ActiveConn", "InActConn");
/// else if (format & FMT_PERSISTENTCONN)
///         printf("%-33s %-9s %-11s %-10s %-10s\n"
///                "  -> RemoteAddress:Port\n",
///                "Prot LocalAddress:Port",
///                "Weight", "PersistConn", "ActiveConn", "InActConn");
/// else if (format & FMT_TUN_INFO)
///         printf("Prot LocalAddress:Port Scheduler Flags\n"
///                "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n");
/// else
///         printf("Prot LocalAddress:Port Scheduler Flags\n"
///                "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
/// ```
pub fn title(fmt: ListFormat) -> String {
    let five = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        format!(
            "{:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port"
        )
    };
    if fmt.stats {
        five("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
    } else if fmt.rate {
        five("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
    } else if fmt.thresholds {
        format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if fmt.persistent_conn {
        format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if fmt.tun_info {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".into()
    } else {
        format!(
            "Prot LocalAddress:Port Scheduler Flags\n  -> {:<28} Forward Weight ActiveConn InActConn\n",
            "RemoteAddress:Port"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{
        Numeric,
        fixtures::{Names, fixture, fixture2},
        rules, service_entry,
    };

    #[test]
    fn list_numeric() {
        let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 mh (mh-fallback,mh-port)
  -> 192.168.1.10:8080            Masq    0      0          0         
  -> 192.168.1.20:80              Tunnel  100    12         3456      
  -> 10.1.0.5:80                  Route   1      7          0         
  -> 127.0.0.1:80                 Local   1      0          0         
TCP  10.0.0.1:443 wlc persistent 300
UDP  10.0.0.53:53 rr
  -> 192.168.1.10:53              Route   1      0          1233      
  -> 192.168.1.11:53              Route   1      0          1234      
TCP  [2001:db8::1]:443 wlc persistent 300
  -> [2001:db8::10]:443           Tunnel  10     4          9         
  -> [2001:db8::20]:443           Route   5      3          17        
";
        assert_eq!(
            list_all(&fixture(), 4096, ListFormat::default(), &Numeric),
            expected
        );
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
  -> 192.168.1.10:8080              234567        1        0        2        0
  -> 192.168.1.20:80               1000000 99999999        0    5000M        0
  -> 10.1.0.5:80                         0        0        0        0        0
  -> 127.0.0.1:80                        0        0        0        0        0
TCP  10.0.0.1:443                        0        0        0        0        0
UDP  10.0.0.53:53                  123456K  999999K        0 99999999        0
  -> 192.168.1.10:53              61728395        0        0        0        0
  -> 192.168.1.11:53              61728394        0        0        0        0
TCP  [2001:db8::1]:443                  42     1000        0    65536        0
  -> [2001:db8::10]:443                 22      500        0    33536        0
  -> [2001:db8::20]:443                 20      500        0    32000        0
";
        assert_eq!(list_all(&fixture(), 4096, fmt, &Numeric), expected);
    }

    /// `--nosort`: services in lbd's order, each one's real servers newest first (lbd lists
    /// them oldest first; the kernel's list has the newest at its head).
    #[test]
    fn nosort_lists_real_servers_newest_first() {
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
  -> [2001:db8::10]:443           Tunnel  10     4          9         
  -> [2001:db8::20]:443           Route   5      3          17        
UDP  10.0.0.53:53 rr
  -> 192.168.1.10:53              Route   1      0          1233      
  -> 192.168.1.11:53              Route   1      0          1234      
";
        assert_eq!(list_all(&services[..2], 65536, fmt, &Numeric), expected);
    }

    #[test]
    fn empty_table() {
        assert_eq!(
            list_all(&[], 1048576, ListFormat::default(), &Numeric),
            "IP Virtual Server version 1.2.1 (size=1048576)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        );
        let fmt = ListFormat {
            stats: true,
            ..Default::default()
        };
        assert_eq!(
            list_all(&[], 0, fmt, &Numeric),
            "IP Virtual Server version 1.2.1 (size=0)\n\
             Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
             -> RemoteAddress:Port\n"
        );
    }

    #[test]
    fn list_numeric_with_every_service_kind() {
        let expected = "\
IP Virtual Server version 1.2.1 (size=65536)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.0.1:80 rr
  -> 172.16.0.1:80                Masq    1      6          1         
  -> 172.16.0.2:80                Masq    1      7          2         
UDP  10.0.0.53:53 sh (sh-port) persistent 600 mask 255.255.255.0 ops
  -> 10.1.0.1:53                  Route   2      0          12        
TCP  [2001:db8::1]:443 mh
  -> 198.18.0.11:443              Tunnel  2      0          0         
  -> [2001:db8::10]:443           Tunnel  3      4          0         
FWM  7 wlc persistent 300 mask 255.255.0.0
  -> 10.2.0.1:80                  Route   1      0          0         
FWM  8 IPv6 wlc persistent 300 pe sip
  -> [2001:db8::20]:80            Route   1      0          0         
";
        assert_eq!(
            list_all(&fixture2(), 65536, ListFormat::default(), &Numeric),
            expected
        );
    }

    #[test]
    fn list_rate_abbreviated_and_exact() {
        let fmt = ListFormat {
            rate: true,
            ..Default::default()
        };
        let expected = "\
IP Virtual Server version 1.2.1 (size=65536)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  192.168.0.1:80                   1234  123456K 99999999    1000M        7
  -> 172.16.0.1:80                     617 61728395 49999999  500000K        4
  -> 172.16.0.2:80                     617 61728394 50000000  500000K        3
UDP  10.0.0.53:53                        0        0        0        0        0
  -> 10.1.0.1:53                         0        0        0        0        0
TCP  [2001:db8::1]:443                   5      100        0  150000K        0
  -> 198.18.0.11:443                     2       40        0    60000        0
  -> [2001:db8::10]:443                  3       60        0    90000        0
FWM  7                                   0        0        0        0        0
  -> 10.2.0.1:80                         0        0        0        0        0
FWM  8 IPv6                              0        0        0        0        0
  -> [2001:db8::20]:80                   0        0        0        0        0
";
        assert_eq!(list_all(&fixture2(), 65536, fmt, &Numeric), expected);
        let exact = ListFormat {
            rate: true,
            exact: true,
            ..Default::default()
        };
        assert_eq!(
            service_entry(&fixture2()[4], exact, &Numeric),
            "TCP  192.168.0.1:80                   1234 123456789 99999999 1000000000        7\n  \
             -> 172.16.0.1:80                     617 61728395 49999999 500000000        4\n  \
             -> 172.16.0.2:80                     617 61728394 50000000 500000000        3\n"
        );
    }

    #[test]
    fn list_thresholds() {
        let fmt = ListFormat {
            thresholds: true,
            ..Default::default()
        };
        let expected = "\
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
  -> RemoteAddress:Port
UDP  10.0.0.53:53 sh (sh-port) persistent 600 mask 255.255.255.0 ops
  -> 10.1.0.1:53                  100        50         0          12        
";
        assert_eq!(list_service(&fixture2()[3], fmt, &Numeric), expected);
    }

    #[test]
    fn list_persistent_conn() {
        let fmt = ListFormat {
            persistent_conn: true,
            ..Default::default()
        };
        let expected = "\
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn 
  -> RemoteAddress:Port
UDP  10.0.0.53:53 sh (sh-port) persistent 600 mask 255.255.255.0 ops
  -> 10.1.0.1:53                  2         3           0          12        
";
        assert_eq!(list_service(&fixture2()[3], fmt, &Numeric), expected);
    }

    #[test]
    fn list_tun_info() {
        let fmt = ListFormat {
            tun_info: true,
            ..Default::default()
        };
        let expected = "\
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn
TCP  [2001:db8::1]:443 mh
  -> 198.18.0.11:443              Tunnel  gue:6080:-c   2      0          0         
  -> [2001:db8::10]:443           Tunnel  ipip          3      4          0         
";
        assert_eq!(list_service(&fixture2()[2], fmt, &Numeric), expected);
        assert_eq!(
            service_entry(&fixture2()[4], fmt, &Numeric).lines().nth(1),
            Some(
                "  -> 172.16.0.1:80                Masq    n/a           1      6          1         "
            )
        );
    }

    #[test]
    fn names_resolved_unless_numeric() {
        let expected = "\
IP Virtual Server version 1.2.1 (size=65536)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  www.example.test:http rr
  -> web1.example.test:http       Masq    1      6          1         
  -> 172.16.0.2:http              Masq    1      7          2         
UDP  10.0.0.53:domain sh (sh-port) persistent 600 mask 255.255.255.0 ops
  -> a-very-long-host-name.exampl Route   2      0          12        
TCP  [2001:db8::1]:https mh
  -> 198.18.0.11:https            Tunnel  2      0          0         
  -> [v6.example.test]:https      Tunnel  3      4          0         
";
        let services = &fixture2()[2..];
        assert_eq!(
            list_all(services, 65536, ListFormat::default(), &Names),
            expected
        );
        assert_eq!(
            rules(&fixture2()[3..4], false, &Names),
            "-A -u 10.0.0.53:domain -s sh -p 600 -M 255.255.255.0 -o -b sh-port\n\
             -a -u 10.0.0.53:domain -r a-very-long-host-name.example.test:domain -g -w 2 -x 100 -y 50\n"
        );
    }
}
