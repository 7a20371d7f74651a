//! Pure text formatting of lbd's answers, byte-for-byte as ipvsadm 1.31 prints the kernel's
//! IPVS table (`ipvsadm.c`: `list_all`, `list_service`, `print_title`,
//! `print_service_entry`, `print_tunnel_rule`, `fwd_tun_info`, `print_largenum`,
//! `print_sched_flags`, `addrport_to_anyname`, `fwd_name`, `fwd_switch`, `list_conn`,
//! `print_conn`, `list_timeout`, `list_daemon`; `libipvs.c`: `ipvs_cmp_services`,
//! `ipvs_cmp_dests`).
//!
//! Nothing here does I/O except name lookups, and those go through a [`Resolve`] the caller
//! chooses ([`Numeric`] for `-n`): every function takes views and returns a `String`, so the
//! golden tests below pin the exact output. The C format strings each function reproduces
//! are quoted in its documentation.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use lb_common::api::{ConnView, RateView, RealServerView, ServiceView, StatsView, StatusView};

/// The IPVS version ipvsadm prints in its banner (`NVERSION(ipvs_info.version)`); every
/// kernel since 2.6.28 reports 1.2.1, and lbd stands in for that kernel.
pub const IPVS_VERSION: &str = "1.2.1";

/// How a listing is formatted: ipvsadm's `FMT_*` bits that apply to `-L`. When several are
/// given, the first of stats, rate, thresholds, persistent_conn, tun_info wins, as in
/// ipvsadm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListFormat {
    /// `--stats` (`FMT_STATS`): counters instead of scheduler/forwarding/weight columns.
    pub stats: bool,
    /// `--rate` (`FMT_RATE`): rates.
    pub rate: bool,
    /// `--thresholds` (`FMT_THRESHOLDS`).
    pub thresholds: bool,
    /// `--persistent-conn` (`FMT_PERSISTENTCONN`).
    pub persistent_conn: bool,
    /// `--tun-info` (`FMT_TUN_INFO`).
    pub tun_info: bool,
    /// `--exact` (`FMT_EXACT`): counters unabbreviated.
    pub exact: bool,
    /// `--nosort` (`FMT_NOSORT`): keep lbd's order instead of sorting.
    pub nosort: bool,
}

/// Name lookups for output without `-n` (ipvsadm's `addr_to_host`, `port_to_service`).
pub trait Resolve {
    /// The host name of an address, if it has one.
    fn host(&self, addr: IpAddr) -> Option<String>;
    /// The service name of a port of `protocol` ("tcp", "udp"), if it has one.
    fn service(&self, port: u16, protocol: &str) -> Option<String>;
}

/// `-n`: addresses and ports as numbers.
pub struct Numeric;

impl Resolve for Numeric {
    fn host(&self, _: IpAddr) -> Option<String> {
        None
    }
    fn service(&self, _: u16, _: &str) -> Option<String> {
        None
    }
}

/// The system's resolver (`getnameinfo`, `getservbyport`).
pub struct SystemNames;

impl Resolve for SystemNames {
    fn host(&self, addr: IpAddr) -> Option<String> {
        let sa = std::net::SocketAddr::new(addr, 0);
        // SAFETY: a sockaddr of the right family and length, and a buffer getnameinfo fills
        // with a NUL-terminated name.
        unsafe {
            let mut storage: libc::sockaddr_storage = std::mem::zeroed();
            let len = match sa {
                std::net::SocketAddr::V4(v4) => {
                    let p = &mut storage as *mut _ as *mut libc::sockaddr_in;
                    (*p).sin_family = libc::AF_INET as u16;
                    (*p).sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
                    std::mem::size_of::<libc::sockaddr_in>()
                }
                std::net::SocketAddr::V6(v6) => {
                    let p = &mut storage as *mut _ as *mut libc::sockaddr_in6;
                    (*p).sin6_family = libc::AF_INET6 as u16;
                    (*p).sin6_addr.s6_addr = v6.ip().octets();
                    std::mem::size_of::<libc::sockaddr_in6>()
                }
            };
            let mut host = [0 as libc::c_char; 1025];
            let rc = libc::getnameinfo(
                &storage as *const _ as *const libc::sockaddr,
                len as libc::socklen_t,
                host.as_mut_ptr(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            );
            if rc != 0 {
                return None;
            }
            Some(
                std::ffi::CStr::from_ptr(host.as_ptr())
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }

    fn service(&self, port: u16, protocol: &str) -> Option<String> {
        if protocol != "tcp" && protocol != "udp" {
            return None;
        }
        let proto = std::ffi::CString::new(protocol).ok()?;
        // SAFETY: a valid C string; the entry is copied out at once.
        unsafe {
            let e = libc::getservbyport(port.to_be() as libc::c_int, proto.as_ptr());
            if e.is_null() {
                None
            } else {
                Some(
                    std::ffi::CStr::from_ptr((*e).s_name)
                        .to_string_lossy()
                        .into_owned(),
                )
            }
        }
    }
}

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

/// The services in ipvsadm's order: `ipvs_sort_services(get, ipvs_cmp_services)` unless
/// `--nosort`.
fn sorted(services: &[ServiceView], nosort: bool) -> Vec<&ServiceView> {
    let mut order: Vec<&ServiceView> = services.iter().collect();
    if !nosort {
        glibc_qsort(&mut order, &|a, b| cmp_services(a, b));
    }
    order
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

/// The service's name in a listing (`FMT_RULE` false) or in a rule (`-S`).
///
/// ```c
/// if (se->fwmark) {
///         if (format & FMT_RULE) sprintf(svc_name, se->af == AF_INET6 ? "-f %d -6" : "-f %d", se->fwmark);
///         else                   sprintf(svc_name, se->af == AF_INET6 ? "FWM  %d IPv6" : "FWM  %d", se->fwmark);
/// } else if (format & FMT_RULE)
///         sprintf(svc_name, "%s %s", "-t" | "-u" | "--sctp-service", vname);
/// else {
///         sprintf(svc_name, "%-4s %s", "TCP" | "UDP" | "SCTP", vname);
///         if (se->af != AF_INET6) svc_name[33] = '\0';
/// }
/// ```
fn service_name(svc: &ServiceView, rule: bool, names: &dyn Resolve) -> String {
    let v6 = svc.vip.is_ipv6();
    if let Some(mark) = svc.fwmark {
        return match (rule, v6) {
            (true, false) => format!("-f {mark}"),
            (true, true) => format!("-f {mark} -6"),
            (false, false) => format!("FWM  {mark}"),
            (false, true) => format!("FWM  {mark} IPv6"),
        };
    }
    let vname = addrport_any(svc.vip, svc.port, &svc.protocol, names);
    if rule {
        let flag = match protocol_number(&svc.protocol) {
            6 => "-t",
            17 => "-u",
            _ => "--sctp-service",
        };
        format!("{flag} {vname}")
    } else {
        let mut name = format!("{:<4} {vname}", protocol_name(&svc.protocol));
        if !v6 {
            truncate(&mut name, 33);
        }
        name
    }
}

/// C's `buf[n] = '\0'` on a string that is ASCII in practice (names may not be).
fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        let mut cut = n;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// The persistence netmask as ipvsadm prints it: a dotted mask for IPv4, a prefix length for
/// IPv6; None when the granularity is one address.
fn netmask(svc: &ServiceView) -> Option<String> {
    let p = svc.persistent_netmask?;
    if svc.vip.is_ipv6() {
        (p != 128).then(|| p.to_string())
    } else {
        (p < 32).then(|| {
            let bits = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            Ipv4Addr::from(bits).to_string()
        })
    }
}

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

/// A service's real servers in ipvsadm's order: `ipvs_sort_dests(d, ipvs_cmp_dests)` unless
/// `--nosort`.
fn sorted_dests(svc: &ServiceView, nosort: bool) -> Vec<&RealServerView> {
    let mut dests: Vec<&RealServerView> = svc.real_servers.iter().collect();
    if !nosort {
        glibc_qsort(&mut dests, &|a, b| cmp_dests(a, b));
    }
    dests
}

/// GUE's checksum flags as `tunflags` / `tun_flags_opts` name them.
fn tun_flag(csum: Option<&str>) -> (&'static str, &'static str) {
    match csum {
        Some("csum") => ("+c", "--tun-csum"),
        Some("remcsum") => ("r+c", "--tun-remcsum"),
        _ => ("-c", "--tun-nocsum"),
    }
}

/// `fwd_tun_info`: "ipip", "gue:PORT:FLAGS", "gre:FLAGS"; None for a real server that is not
/// tunnelled (printed as "n/a").
pub fn tun_info(rs: &RealServerView) -> Option<String> {
    if fwd_name(&rs.forwarding) != "Tunnel" {
        return None;
    }
    let (flag, _) = tun_flag(rs.tun_csum.as_deref());
    match rs.tun_type.as_deref().unwrap_or("ipip") {
        "ipip" => Some("ipip".into()),
        "gue" => Some(format!("gue:{}:{flag}", rs.tun_port.unwrap_or(0))),
        "gre" => Some(format!("gre:{flag}")),
        _ => None,
    }
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

/// `-S` (`list_all` with `FMT_RULE`): the table as commands that `-R` takes back.
///
/// ```c
/// printf("-A %s -s %s", svc_name, se->sched_name);
/// if (persistent)    { printf(" -p %u", se->timeout);
///                      if (netmask is not one address) printf(" -M %s" | " -M %i", ...); }
/// if (se->pe_name[0]) printf(" --pe %s", se->pe_name);
/// if (one-packet)    printf(" -o");
/// if (sched flags)   { printf(" -b "); print_sched_flags(se); }
/// printf("\n");
/// /* each dest, not tunnelled */
/// printf("-a %s -r %s %s -w %d\n", svc_name, dname, fwd_switch(e->conn_flags), e->weight);
/// /* tunnelled (print_tunnel_rule) */
/// "-a %s -r %s %s -w %d --tun-type %s"                        ipip
/// "-a %s -r %s %s -w %d --tun-type %s --tun-port %d %s"       gue (%s: --tun-nocsum, ...)
/// "-a %s -r %s %s -w %d --tun-type %s %s"                     gre
/// ```
///
/// lbctl adds what ipvsadm's rules cannot say, only where it is set, so that `-S` then `-R`
/// gives back the same state: ` --mh-table-size N` on a service, ` -x U -y L` on a real
/// server with connection thresholds. A sorry server in use (lbd's health checks) is left
/// out: it belongs to the service's config, which `lbctl get config` shows.
pub fn rules(services: &[ServiceView], nosort: bool, names: &dyn Resolve) -> String {
    let mut out = String::new();
    for svc in sorted(services, nosort) {
        let svc_name = service_name(svc, true, names);
        let _ = write!(out, "-A {svc_name} -s {}", svc.scheduler);
        if let Some(timeout) = svc.persistent {
            let _ = write!(out, " -p {timeout}");
            if let Some(m) = netmask(svc) {
                let _ = write!(out, " -M {m}");
            }
        }
        if let Some(pe) = &svc.pe_name {
            let _ = write!(out, " --pe {pe}");
        }
        if svc.one_packet {
            out.push_str(" -o");
        }
        if let Some(flags) = sched_flags(&svc.scheduler, &svc.sched_flags) {
            let _ = write!(out, " -b {flags}");
        }
        if let Some(n) = svc.mh_table_size {
            let _ = write!(out, " --mh-table-size {n}");
        }
        out.push('\n');
        // A sorry server in use is the service's, not a real server of it: the config says
        // so, and -R could not.
        for rs in sorted_dests(svc, nosort)
            .into_iter()
            .filter(|r| !r.health.as_ref().is_some_and(|h| h.sorry_server))
        {
            let dname = addrport_any(rs.address, rs.port, &svc.protocol, names);
            let _ = write!(
                out,
                "-a {svc_name} -r {dname} {} -w {}",
                fwd_switch(&rs.forwarding),
                rs.weight
            );
            if fwd_name(&rs.forwarding) == "Tunnel" {
                let (_, opt) = tun_flag(rs.tun_csum.as_deref());
                match rs.tun_type.as_deref().unwrap_or("ipip") {
                    "gue" => {
                        let _ = write!(
                            out,
                            " --tun-type gue --tun-port {} {opt}",
                            rs.tun_port.unwrap_or(0)
                        );
                    }
                    "gre" => {
                        let _ = write!(out, " --tun-type gre {opt}");
                    }
                    t => {
                        let _ = write!(out, " --tun-type {t}");
                    }
                }
            }
            if rs.upper_threshold != 0 {
                let _ = write!(out, " -x {}", rs.upper_threshold);
            }
            if rs.lower_threshold != 0 {
                let _ = write!(out, " -y {}", rs.lower_threshold);
            }
            out.push('\n');
        }
    }
    out
}

/// `fwd_switch`: the forwarding method as an option.
pub fn fwd_switch(forwarding: &str) -> &'static str {
    match fwd_name(forwarding) {
        "Masq" => "-m",
        "Tunnel" => "-i",
        _ => "-g",
    }
}

/// `list_conn` (`-L -c`): connections and persistence templates.
///
/// ```c
/// printf("IPVS connection entries\n");
/// if (format & FMT_PERSISTENTCONN)
///         printf("pro expire %-11s %-18s %-18s %-18s %-16s %s\n",
///                "state", "source", "virtual", "destination", "pe name", "pe_data");
/// else
///         printf("pro expire %-11s %-18s %-18s %s\n",
///                "state", "source", "virtual", "destination");
/// /* print_conn, for each entry (no persistence-engine data in lb) */
/// sprintf(expire_str, "%02d:%02d", minutes, seconds);
/// printf("%-3s %-6s %-11s %-18s %-18s %s\n", protocol, expire_str, state, cname, vname, dname);
/// ```
pub fn connections(conns: &[ConnView], persistent_conn: bool, names: &dyn Resolve) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in conns {
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        let _ = writeln!(
            out,
            "{:<3} {:<6} {:<11} {:<18} {:<18} {}",
            protocol_name(&c.protocol),
            expire,
            c.state,
            addrport_any(c.client, c.client_port, &c.protocol, names),
            addrport_any(c.vip, c.vport, &c.protocol, names),
            addrport_any(c.real, c.real_port, &c.protocol, names),
        );
    }
    out
}

/// `list_timeout` (`-L --timeout`).
///
/// ```c
/// printf("Timeout (tcp tcpfin udp): %d %d %d\n", u->tcp_timeout, u->tcp_fin_timeout, u->udp_timeout);
/// ```
pub fn timeouts(tcp: u32, tcpfin: u32, udp: u32) -> String {
    format!("Timeout (tcp tcpfin udp): {tcp} {tcpfin} {udp}\n")
}

/// A connection-synchronisation daemon (lb has none; ipvsadm's `--daemon` lists them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncDaemon {
    /// "master" or "backup".
    pub state: String,
    pub mcast_interface: String,
    pub syncid: u8,
    /// What newer kernels report too (0 or None: not reported).
    pub sync_maxlen: u32,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

/// `list_daemon` (`-L --daemon`): one line per running sync daemon, nothing when none runs.
///
/// ```c
/// printf("%s sync daemon (mcast=%s, syncid=%d", type, u[i].mcast_ifn, u[i].syncid);
/// if (u[i].sync_maxlen) printf(", maxlen=%u", u[i].sync_maxlen);
/// if (u[i].mcast_af != AF_UNSPEC) printf(", group=%s", addr);   /* inet_ntop */
/// if (u[i].mcast_port) printf(", port=%u", u[i].mcast_port);
/// if (u[i].mcast_ttl) printf(", ttl=%u", u[i].mcast_ttl);
/// printf(")\n");
/// ```
pub fn daemons(daemons: &[SyncDaemon]) -> String {
    let mut out = String::new();
    for d in daemons {
        let _ = write!(
            out,
            "{} sync daemon (mcast={}, syncid={}",
            d.state, d.mcast_interface, d.syncid
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        match d.mcast_group {
            Some(IpAddr::V4(a)) => {
                let _ = write!(out, ", group={a}");
            }
            Some(IpAddr::V6(a)) => {
                let _ = write!(out, ", group={}", inet_ntop6(a));
            }
            None => {}
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
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

/// `print_sched_flags`: the service's scheduler flags as ipvsadm prints them, or `None` when
/// none is set (ipvsadm then prints neither " (...)" nor " -b ...").
///
/// IPVS keeps three flag bits, not names: `sh-fallback`, `mh-fallback` and `flag-1` are
/// `IP_VS_SVC_F_SCHED1`; `sh-port`, `mh-port` and `flag-2` are `IP_VS_SVC_F_SCHED2`;
/// `flag-3` is `IP_VS_SVC_F_SCHED3`. ipvsadm names the bits by the scheduler, in bit order:
///
/// ```c
/// if (!strcmp(se->sched_name, "sh")) {      /* "sh-fallback," "sh-port," */
/// } else if (!strcmp(se->sched_name, "mh")) { /* "mh-fallback," "mh-port," */
/// } else {                                   /* "flag-1," "flag-2," "flag-3," */
/// }
/// if (flags[0]) { flags[strlen(flags)-1] = '\0'; printf("%s", flags); }
/// ```
///
/// so a bit the scheduler has no name for (`flag-3` on `sh`) prints nothing, and the caller
/// prints " ()" or " -b " around nothing, as ipvsadm does. Names that are no flag at all
/// set no bit.
pub fn sched_flags(scheduler: &str, flags: &[String]) -> Option<String> {
    let bit = |f: &str| match f {
        "sh-fallback" | "mh-fallback" | "flag-1" => 1u8,
        "sh-port" | "mh-port" | "flag-2" => 2,
        "flag-3" => 4,
        _ => 0,
    };
    let bits = flags.iter().fold(0u8, |b, f| b | bit(f));
    if bits == 0 {
        return None;
    }
    let names: &[&str] = match scheduler {
        "sh" => &["sh-fallback", "sh-port"],
        "mh" => &["mh-fallback", "mh-port"],
        _ => &["flag-1", "flag-2", "flag-3"],
    };
    let set: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    Some(set.join(","))
}

/// `addrport_to_anyname` with `FMT_NUMERIC`:
/// `snprintf(buf, 60, "%s%s%s:%u", af == AF_INET ? "" : "[", inet_ntop(af, addr, ...),
/// af == AF_INET ? "" : "]", port)`.
pub fn addrport(addr: IpAddr, port: u16) -> String {
    addrport_any(addr, port, "", &Numeric)
}

/// `addrport_to_anyname`: the host name (else the address) and the service name (else the
/// port) of `protocol`, cut to the 59 bytes of ipvsadm's buffer (`buf = malloc(60);
/// snprintf(buf, 60, "%s%s%s:%s", ...)`: only a long name reaches that).
pub fn addrport_any(addr: IpAddr, port: u16, protocol: &str, names: &dyn Resolve) -> String {
    let host = names.host(addr).unwrap_or_else(|| match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => inet_ntop6(a),
    });
    let port = names
        .service(port, &protocol.to_ascii_lowercase())
        .unwrap_or_else(|| port.to_string());
    let mut s = match addr {
        IpAddr::V4(_) => format!("{host}:{port}"),
        IpAddr::V6(_) => format!("[{host}]:{port}"),
    };
    truncate(&mut s, 59);
    s
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

/// An address as libipvs holds it (`union nf_inet_addr`, zeroed around an IPv4 address), as
/// the four 32-bit words ipvsadm compares, in host order (`ntohl`).
fn addr_words(addr: &IpAddr) -> [u32; 4] {
    match addr {
        IpAddr::V4(a) => [u32::from(*a), 0, 0, 0],
        IpAddr::V6(a) => {
            let o = a.octets();
            std::array::from_fn(|i| {
                u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
            })
        }
    }
}

/// C's `int r = ntohl(a) - ntohl(b);`: the unsigned difference, wrapped into an `int`.
fn wrapped_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The address comparison of `ipvs_cmp_services` and `ipvs_cmp_dests`, decided by the first
/// operand's family:
///
/// ```c
/// if (d1->af == AF_INET6)
///         for (i = 0; !r && (i < 4); i++)
///                 r = ntohl(d1->addr.in6.s6_addr32[i]) - ntohl(d2->addr.in6.s6_addr32[i]);
/// else
///         r = ntohl(d1->addr.ip) - ntohl(d2->addr.ip);
/// ```
fn cmp_addr(a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (addr_words(a), addr_words(b));
    let words = if a.is_ipv6() { 4 } else { 1 };
    (0..words)
        .map(|i| wrapped_diff(wa[i], wb[i]))
        .find(|&r| r != 0)
        .unwrap_or(0)
}

/// `AF_INET` (2) or `AF_INET6` (10).
fn af(addr: &IpAddr) -> i32 {
    if addr.is_ipv6() { 10 } else { 2 }
}

/// `ipvs_cmp_services`, exactly: firewall mark, family, protocol number, address, port, each
/// a C `int` difference.
///
/// The address words are subtracted as unsigned numbers and the difference taken as an
/// `int`, so addresses more than 2^31 apart compare the "wrong" way round (ipvsadm lists
/// 192.168.0.1 before 10.0.0.1, since 0x0a000001 - 0xc0a80001 wraps to a positive `int`);
/// lbctl reproduces that, and the order glibc's `qsort` makes of it ([`glibc_qsort`]).
fn cmp_services(a: &ServiceView, b: &ServiceView) -> i32 {
    let mark = |s: &ServiceView| s.fwmark.unwrap_or(0);
    let r = wrapped_diff(mark(a), mark(b));
    if r != 0 {
        return r;
    }
    let r = af(&a.vip) - af(&b.vip);
    if r != 0 {
        return r;
    }
    let r = i32::from(protocol_number(&a.protocol)) - i32::from(protocol_number(&b.protocol));
    if r != 0 {
        return r;
    }
    let r = cmp_addr(&a.vip, &b.vip);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// `ipvs_cmp_dests`, exactly: address (with [`cmp_services`]'s wrap-around; the families are
/// not compared, the first operand's decides how many words count), then port.
fn cmp_dests(a: &RealServerView, b: &RealServerView) -> i32 {
    let r = cmp_addr(&a.address, &b.address);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// glibc's `qsort`, which is a merge sort (`msort_with_tmp`: the first half, `n / 2`
/// elements, and the second sorted, then merged taking from the first half while
/// `cmp(first, second) <= 0`). ipvsadm's comparisons are not a total order (see
/// [`cmp_services`]), so the order depends on the algorithm: this is glibc's, for the same
/// result. (Rust's own sort may panic on such a comparison.)
fn glibc_qsort<T: Copy>(v: &mut [T], cmp: &dyn Fn(T, T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_qsort(&mut v[..n1], cmp);
    glibc_qsort(&mut v[n1..], cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(v[i], v[j]) <= 0 {
            merged.push(v[i]);
            i += 1;
        } else {
            merged.push(v[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&v[i..n1]);
    // What is left of the second half is in place already.
    v[..merged.len()].copy_from_slice(&merged);
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
            ..Default::default()
        }
    }

    /// Four services in an order ipvsadm would not print them in, with real servers likewise
    /// out of order. The real servers of TCP 10.0.0.1:80 are 10.1.0.5, 127.0.0.1 and
    /// 192.168.1.x: ipvs_cmp_dests' wrapped `int` difference puts 10.1.0.5 after
    /// 192.168.1.x (they are more than 2^31 apart) but before 127.0.0.1, and glibc's merge
    /// sort of the order given makes 192.168.1.10, 192.168.1.20, 10.1.0.5, 127.0.0.1 of it.
    fn fixture() -> Vec<ServiceView> {
        vec![
            ServiceView {
                protocol: "tcp".into(),
                vip: "2001:db8::1".parse().unwrap(),
                port: 443,
                scheduler: "wlc".into(),
                sched_flags: vec![],
                persistent: Some(300),
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
                ..Default::default()
            },
            ServiceView {
                protocol: "udp".into(),
                vip: "10.0.0.53".parse().unwrap(),
                port: 53,
                scheduler: "rr".into(),
                sched_flags: vec![],
                persistent: None,
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
                ..Default::default()
            },
            ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 443,
                scheduler: "wlc".into(),
                sched_flags: vec![],
                persistent: Some(300),
                stats: stats(0, 0, 0, 0, 0),
                real_servers: vec![],
                ..Default::default()
            },
            ServiceView {
                protocol: "tcp".into(),
                vip: "10.0.0.1".parse().unwrap(),
                port: 80,
                scheduler: "mh".into(),
                sched_flags: vec!["mh-port".into(), "mh-fallback".into()],
                persistent: None,
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
                ..Default::default()
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
        let f = |sched: &str, flags: &[&str]| {
            let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
            sched_flags(sched, &flags)
        };
        assert_eq!(f("sh", &[]), None);
        assert_eq!(f("sh", &[""]), None);
        // print_sched_flags: the bits in order, named by the scheduler.
        assert_eq!(
            f("sh", &["sh-port", "sh-fallback"]).as_deref(),
            Some("sh-fallback,sh-port")
        );
        assert_eq!(f("sh", &["flag-2"]).as_deref(), Some("sh-port"));
        assert_eq!(
            f("mh", &["mh-port", "mh-fallback", "mh-port"]).as_deref(),
            Some("mh-fallback,mh-port")
        );
        assert_eq!(
            f("rr", &["flag-3", "flag-1"]).as_deref(),
            Some("flag-1,flag-3")
        );
        // A bit sh has no name for: set, but printed as nothing (" ()" and " -b ").
        assert_eq!(f("sh", &["flag-3"]).as_deref(), Some(""));
        let svc = ServiceView {
            protocol: "tcp".into(),
            vip: "10.0.0.1".parse().unwrap(),
            port: 80,
            scheduler: "sh".into(),
            sched_flags: vec!["flag-3".into()],
            ..Default::default()
        };
        assert_eq!(
            service_entry(&svc, ListFormat::default(), &Numeric),
            "TCP  10.0.0.1:80 sh ()\n"
        );
        assert_eq!(
            rules(std::slice::from_ref(&svc), false, &Numeric),
            "-A -t 10.0.0.1:80 -s sh -b \n"
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

    fn rate(cps: u64, in_pps: u64, out_pps: u64, in_bps: u64, out_bps: u64) -> RateView {
        RateView {
            cps,
            in_pps,
            out_pps,
            in_bps,
            out_bps,
        }
    }

    /// A second state with everything the formats show: rates, thresholds, persistence
    /// templates, scheduler flags, netmasks, one-packet scheduling, Maglev table size, GUE
    /// and IPIP tunnels (one across families), IPv6, and firewall-mark services (which lbd
    /// never has, but ipvsadm prints).
    fn fixture2() -> Vec<ServiceView> {
        let real = |addr: &str, port: u16, fwd: &str, weight: u32| RealServerView {
            address: addr.parse().unwrap(),
            port,
            forwarding: fwd.into(),
            weight,
            ..Default::default()
        };
        vec![
            ServiceView {
                fwmark: Some(8),
                vip: "::".parse().unwrap(),
                scheduler: "wlc".into(),
                persistent: Some(300),
                pe_name: Some("sip".into()),
                real_servers: vec![real("2001:db8::20", 80, "dr", 1)],
                ..Default::default()
            },
            ServiceView {
                fwmark: Some(7),
                scheduler: "wlc".into(),
                persistent: Some(300),
                persistent_netmask: Some(16),
                real_servers: vec![real("10.2.0.1", 80, "dr", 1)],
                ..Default::default()
            },
            ServiceView {
                vip: "2001:db8::1".parse().unwrap(),
                port: 443,
                scheduler: "mh".into(),
                mh_table_size: Some(251),
                rate: rate(5, 100, 0, 150_000_000, 0),
                real_servers: vec![
                    RealServerView {
                        tun_type: Some("gue".into()),
                        tun_port: Some(6080),
                        rate: rate(2, 40, 0, 60_000, 0),
                        ..real("198.18.0.11", 443, "tun", 2)
                    },
                    RealServerView {
                        tun_type: Some("ipip".into()),
                        active_conns: 4,
                        rate: rate(3, 60, 0, 90_000, 0),
                        ..real("2001:db8::10", 443, "tun", 3)
                    },
                ],
                ..Default::default()
            },
            ServiceView {
                protocol: "udp".into(),
                vip: "10.0.0.53".parse().unwrap(),
                port: 53,
                scheduler: "sh".into(),
                sched_flags: vec!["sh-port".into()],
                persistent: Some(600),
                persistent_netmask: Some(24),
                one_packet: true,
                real_servers: vec![RealServerView {
                    upper_threshold: 100,
                    lower_threshold: 50,
                    inactive_conns: 12,
                    persist_conns: 3,
                    ..real("10.1.0.1", 53, "dr", 2)
                }],
                ..Default::default()
            },
            ServiceView {
                vip: "192.168.0.1".parse().unwrap(),
                port: 80,
                scheduler: "rr".into(),
                rate: rate(1234, 123_456_789, 99_999_999, 1_000_000_000, 7),
                real_servers: vec![
                    RealServerView {
                        active_conns: 7,
                        inactive_conns: 2,
                        rate: rate(617, 61_728_394, 50_000_000, 500_000_000, 3),
                        ..real("172.16.0.2", 80, "nat", 1)
                    },
                    RealServerView {
                        active_conns: 6,
                        inactive_conns: 1,
                        rate: rate(617, 61_728_395, 49_999_999, 500_000_000, 4),
                        ..real("172.16.0.1", 80, "nat", 1)
                    },
                ],
                ..Default::default()
            },
        ]
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

    /// `ipvs_cmp_services` / `ipvs_cmp_dests` subtract addresses as unsigned words into an
    /// `int` (`r = ntohl(s1->addr.ip) - ntohl(s2->addr.ip)`), and `qsort` is glibc's merge
    /// sort: ipvsadm's order, not the numeric one.
    #[test]
    fn ipvsadm_sort_order_with_wrapped_differences() {
        let svc = |vip: &str, port: u16, reals: &[&str]| ServiceView {
            protocol: "tcp".into(),
            vip: vip.parse().unwrap(),
            port,
            scheduler: "rr".into(),
            real_servers: reals
                .iter()
                .map(|a| RealServerView {
                    address: a.parse().unwrap(),
                    port,
                    forwarding: "tun".into(),
                    weight: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        // 0x0a000001 - 0xc0a80001 wraps to a positive int: 10.0.0.1 sorts after 192.168.0.1.
        let services = vec![
            svc("10.0.0.1", 80, &[]),
            svc("192.168.0.1", 80, &[]),
            svc("192.168.0.1", 8080, &[]),
        ];
        assert_eq!(
            list_all(&services, 4096, ListFormat::default(), &Numeric),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  192.168.0.1:80 rr\n\
             TCP  192.168.0.1:8080 rr\n\
             TCP  10.0.0.1:80 rr\n"
        );
        // 0.0.0.1 < 96.0.0.1 < 192.0.0.1 < 0.0.0.1: no total order; glibc's msort of
        // [192, 96, 0] sorts [192] and [96, 0] -> [0, 96], then merges: 192 vs 0 says
        // 192 < 0, so 192 first, then 0, 96.
        let cyclic = vec![
            svc("192.0.0.1", 1, &[]),
            svc("96.0.0.1", 1, &[]),
            svc("0.0.0.1", 1, &[]),
        ];
        assert_eq!(
            rules(&cyclic, false, &Numeric),
            "-A -t 192.0.0.1:1 -s rr\n-A -t 0.0.0.1:1 -s rr\n-A -t 96.0.0.1:1 -s rr\n"
        );
        // Real servers of both families: the first operand's family decides how many words
        // count; an IPv4 address is compared with the first 32 bits of an IPv6 one.
        let mixed = svc(
            "10.0.0.1",
            80,
            &["2001:db8::1", "10.1.0.1", "192.168.0.1", "1.0.0.0"],
        );
        assert_eq!(
            rules(&[mixed], false, &Numeric),
            "-A -t 10.0.0.1:80 -s rr\n\
             -a -t 10.0.0.1:80 -r 192.168.0.1:80 -i -w 1 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r 1.0.0.0:80 -i -w 1 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r 10.1.0.1:80 -i -w 1 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r [2001:db8::1]:80 -i -w 1 --tun-type ipip\n"
        );
        // --nosort keeps lbd's order.
        assert_eq!(
            rules(&services, true, &Numeric),
            "-A -t 10.0.0.1:80 -s rr\n-A -t 192.168.0.1:80 -s rr\n-A -t 192.168.0.1:8080 -s rr\n"
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

    /// `addrport_to_anyname` writes into 60 bytes: a longer name is cut to 59, also in `-S`
    /// and `-c`, where nothing else cuts it.
    #[test]
    fn names_are_cut_to_ipvsadm_buffer() {
        struct Long;
        impl Resolve for Long {
            fn host(&self, _: IpAddr) -> Option<String> {
                Some(format!("{}.example.test", "a".repeat(50)))
            }
            fn service(&self, _: u16, _: &str) -> Option<String> {
                Some("http".into())
            }
        }
        let name = addrport_any("10.0.0.1".parse().unwrap(), 80, "tcp", &Long);
        // The port does not make it.
        assert_eq!(name, format!("{}.example.", "a".repeat(50)));
        assert_eq!(name.len(), 59);
        assert_eq!(
            addrport_any("2001:db8::1".parse().unwrap(), 80, "tcp", &Long),
            format!("[{}.example", "a".repeat(50))
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
    fn save_rules() {
        let expected = "\
-A -t 192.168.0.1:80 -s rr
-a -t 192.168.0.1:80 -r 172.16.0.1:80 -m -w 1
-a -t 192.168.0.1:80 -r 172.16.0.2:80 -m -w 1
-A -u 10.0.0.53:53 -s sh -p 600 -M 255.255.255.0 -o -b sh-port
-a -u 10.0.0.53:53 -r 10.1.0.1:53 -g -w 2 -x 100 -y 50
-A -t [2001:db8::1]:443 -s mh --mh-table-size 251
-a -t [2001:db8::1]:443 -r 198.18.0.11:443 -i -w 2 --tun-type gue --tun-port 6080 --tun-nocsum
-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -i -w 3 --tun-type ipip
-A -f 7 -s wlc -p 300 -M 255.255.0.0
-a -f 7 -r 10.2.0.1:80 -g -w 1
-A -f 8 -6 -s wlc -p 300 --pe sip
-a -f 8 -6 -r [2001:db8::20]:80 -g -w 1
";
        assert_eq!(rules(&fixture2(), false, &Numeric), expected);
        // The first table too (IPv6 persistence, local real servers saved as -g).
        let first = rules(&fixture(), false, &Numeric);
        assert!(
            first.starts_with(
                "-A -t 10.0.0.1:80 -s mh -b mh-fallback,mh-port\n\
             -a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 0\n\
             -a -t 10.0.0.1:80 -r 192.168.1.20:80 -i -w 100 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r 10.1.0.5:80 -g -w 1\n\
             -a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 1\n\
             -A -t 10.0.0.1:443 -s wlc -p 300\n"
            ),
            "{first}"
        );
    }

    /// Names as a resolver would give them, from a fixed table.
    struct Names;
    impl Resolve for Names {
        fn host(&self, addr: IpAddr) -> Option<String> {
            match addr.to_string().as_str() {
                "192.168.0.1" => Some("www.example.test".into()),
                "172.16.0.1" => Some("web1.example.test".into()),
                "2001:db8::10" => Some("v6.example.test".into()),
                "10.1.0.1" => Some("a-very-long-host-name.example.test".into()),
                _ => None,
            }
        }
        fn service(&self, port: u16, protocol: &str) -> Option<String> {
            match (port, protocol) {
                (80, "tcp") => Some("http".into()),
                (443, "tcp") => Some("https".into()),
                (53, "udp") => Some("domain".into()),
                _ => None,
            }
        }
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

    /// A connection entry: (address, port) of the client, the VIP and the real server.
    fn conn(
        proto: &str,
        state: &str,
        expires: u64,
        client: (&str, u16),
        vip: (&str, u16),
        real: (&str, u16),
    ) -> ConnView {
        ConnView {
            protocol: proto.into(),
            state: state.into(),
            expires,
            client: client.0.parse().unwrap(),
            client_port: client.1,
            vip: vip.0.parse().unwrap(),
            vport: vip.1,
            real: real.0.parse().unwrap(),
            real_port: real.1,
            template: state == "NONE",
        }
    }

    #[test]
    fn connection_entries() {
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
                "tcp",
                "FIN_WAIT",
                61,
                ("198.18.0.10", 40314),
                ("192.168.0.1", 80),
                ("172.16.0.2", 80),
            ),
            conn(
                "tcp",
                "SYN_RECV",
                59,
                ("198.18.0.10", 40316),
                ("192.168.0.1", 80),
                ("172.16.0.2", 80),
            ),
            conn(
                "udp",
                "UDP",
                3600,
                ("198.18.0.10", 5353),
                ("10.0.0.53", 53),
                ("10.1.0.1", 53),
            ),
            conn(
                "udp",
                "NONE",
                0,
                ("198.18.0.0", 0),
                ("10.0.0.53", 53),
                ("10.1.0.1", 53),
            ),
            conn(
                "tcp",
                "ESTABLISHED",
                900,
                ("2001:db8::77", 50000),
                ("2001:db8::1", 443),
                ("2001:db8::10", 443),
            ),
        ];
        let expected = "\
IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:59  ESTABLISHED 198.18.0.10:40312  192.168.0.1:80     172.16.0.1:80
TCP 01:01  FIN_WAIT    198.18.0.10:40314  192.168.0.1:80     172.16.0.2:80
TCP 00:59  SYN_RECV    198.18.0.10:40316  192.168.0.1:80     172.16.0.2:80
UDP 60:00  UDP         198.18.0.10:5353   10.0.0.53:53       10.1.0.1:53
UDP 00:00  NONE        198.18.0.0:0       10.0.0.53:53       10.1.0.1:53
TCP 15:00  ESTABLISHED [2001:db8::77]:50000 [2001:db8::1]:443  [2001:db8::10]:443
";
        assert_eq!(connections(&conns, false, &Numeric), expected);
        let with_pe = connections(&conns[..1], true, &Numeric);
        assert_eq!(
            with_pe,
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination        pe name          pe_data\n\
             TCP 14:59  ESTABLISHED 198.18.0.10:40312  192.168.0.1:80     172.16.0.1:80\n"
        );
        assert_eq!(
            connections(&conns[..1], false, &Names).lines().nth(2),
            Some(
                "TCP 14:59  ESTABLISHED 198.18.0.10:40312  www.example.test:http web1.example.test:http"
            )
        );
    }

    #[test]
    fn timeouts_and_daemons() {
        assert_eq!(
            timeouts(900, 120, 300),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
        assert_eq!(daemons(&[]), "");
        assert_eq!(
            daemons(&[
                SyncDaemon {
                    state: "master".into(),
                    mcast_interface: "eth0".into(),
                    syncid: 1,
                    ..Default::default()
                },
                SyncDaemon {
                    state: "backup".into(),
                    mcast_interface: "eth1".into(),
                    syncid: 255,
                    sync_maxlen: 1472,
                    mcast_group: Some("224.0.0.81".parse().unwrap()),
                    mcast_port: 8848,
                    mcast_ttl: 1,
                },
            ]),
            "master sync daemon (mcast=eth0, syncid=1)\n\
             backup sync daemon (mcast=eth1, syncid=255, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
        );
    }
}
