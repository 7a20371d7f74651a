//! ipvsadm's words for what the kernel holds as numbers and flags: protocols, forwarding
//! methods (`fwd_name`, `fwd_switch`), scheduler flags (`print_sched_flags`) and tunnels
//! (`fwd_tun_info`, `tunflags`).

use lb_model::api::RealServerView;

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
pub(super) fn protocol_number(protocol: &str) -> u8 {
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

/// `fwd_switch`: the forwarding method as an option.
pub fn fwd_switch(forwarding: &str) -> &'static str {
    match fwd_name(forwarding) {
        "Masq" => "-m",
        "Tunnel" => "-i",
        _ => "-g",
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

/// GUE's checksum flags as `tunflags` / `tun_flags_opts` name them.
pub(super) fn tun_flag(csum: Option<&str>) -> (&'static str, &'static str) {
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

#[cfg(test)]
mod tests {
    use lb_model::api::ServiceView;

    use super::*;
    use crate::format::{ListFormat, Numeric, rules, service_entry};

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
}
