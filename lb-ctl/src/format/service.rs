//! How a service is named: in a listing (`TCP  VIP:PORT`, `FWM  MARK`) and in a rule
//! (`-t VIP:PORT`, `-f MARK`), and its persistence netmask.

use std::net::Ipv4Addr;

use lb_model::api::ServiceView;

use super::{
    address::{addrport_any, truncate},
    lookup::Resolve,
    names::{protocol_name, protocol_number},
};

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
pub(super) fn service_name(svc: &ServiceView, rule: bool, names: &dyn Resolve) -> String {
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

/// The persistence netmask as ipvsadm prints it: a dotted mask for IPv4, a prefix length for
/// IPv6; None when the granularity is one address.
pub(super) fn netmask(svc: &ServiceView) -> Option<String> {
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
