//! `-S`: the table as the rules that `-R` takes back.

use std::fmt::Write as _;

use lb_model::api::ServiceView;

use super::{
    address::addrport_any,
    lookup::Resolve,
    names::{fwd_name, fwd_switch, sched_flags, tun_flag},
    service::{netmask, service_name},
    sort::{sorted, sorted_dests},
};

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
/// server with connection thresholds. (A weight above 65535, which only the JSON config
/// can set, is printed as it is: neither ipvsadm nor lbctl's `-R` takes it back.) A sorry server in use (lbd's health checks) is left
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
            // A lower threshold without an upper one (the JSON config allows it; it has no
            // effect) is left out: `-y` without `-x` is ERANGE to IPVS and to lbd's ipvsadm
            // commands, and the rules must restore.
            if rs.upper_threshold != 0 {
                let _ = write!(out, " -x {}", rs.upper_threshold);
                if rs.lower_threshold != 0 {
                    let _ = write!(out, " -y {}", rs.lower_threshold);
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{
        Numeric,
        fixtures::{fixture, fixture2, port_zero_service},
    };

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
        // A lower threshold without an upper one is not saved (`-y` alone does not restore).
        let mut lone = fixture2();
        lone[3].real_servers[0].upper_threshold = 0;
        assert!(
            rules(&lone, false, &Numeric).contains("-a -u 10.0.0.53:53 -r 10.1.0.1:53 -g -w 2\n"),
            "{}",
            rules(&lone, false, &Numeric)
        );
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

    /// A port-0 service (ipvsadm `-A -t VIP:0 -p`, or `-t VIP -p`) and its real servers
    /// are saved with port 0, as ipvsadm prints them.
    #[test]
    fn a_port_zero_service_is_saved_with_port_zero() {
        let svc = port_zero_service();
        assert_eq!(
            rules(&[svc], false, &Numeric),
            "-A -t 10.0.0.2:0 -s wlc -p 300
-a -t 10.0.0.2:0 -r 10.1.0.5:0 -g -w 1
"
        );
    }
}
