//! `lbctl status`: a readable summary of lbd (not an ipvsadm format).

use std::fmt::Write as _;

use lb_model::api::StatusView;

/// `lbctl status`: a readable summary of lbd (not an ipvsadm format).
pub fn status(s: &StatusView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "lbd version {}", s.version);
    let interfaces = s.attached();
    let _ = writeln!(
        out,
        "{:<15}{} (XDP {} mode)",
        if interfaces.len() > 1 {
            "Interfaces:"
        } else {
            "Interface:"
        },
        interfaces.join(", "),
        s.xdp_mode
    );
    for l in &s.links {
        let _ = writeln!(
            out,
            "  {}: index {}, {}, mtu {}, XDP {}{}",
            l.name,
            l.index,
            if l.up { "up" } else { "down" },
            l.mtu,
            l.xdp_mode,
            if l.program_id != 0 {
                format!(" program {}", l.program_id)
            } else {
                String::new()
            }
        );
        let c = &l.counters;
        let _ = writeln!(
            out,
            "    {} packets in ({} bytes): tx {}, redirect {}, pass {}, drop {}, aborted {}",
            c.packets, c.bytes, c.tx, c.redirect, c.pass, c.drop, c.aborted
        );
    }
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
    use super::*;

    #[test]
    fn status_summary() {
        let s = StatusView {
            version: "0.1.0".into(),
            interface: "eth0".into(),
            interfaces: vec!["eth0".into()],
            links: vec![],
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
        let link = |name: &str, index, up, prog| lb_model::api::LinkView {
            name: name.into(),
            index,
            up,
            mtu: 1500,
            xdp_mode: if prog != 0 { "native" } else { "none" }.into(),
            program_id: prog,
            counters: lb_model::api::InterfaceCounters {
                packets: index as u64 * 10,
                bytes: index as u64 * 1000,
                tx: 1,
                redirect: 2,
                pass: 3,
                drop: 4,
                aborted: 0,
            },
        };
        let two = StatusView {
            interfaces: vec!["eth0".into(), "eth1".into()],
            links: vec![link("eth0", 2, true, 74), link("eth1", 3, false, 0)],
            reasons: vec![],
            ..down
        };
        assert!(
            status(&two).contains(
                "\nInterfaces:    eth0, eth1 (XDP native mode)\n  \
                 eth0: index 2, up, mtu 1500, XDP native program 74\n    \
                 20 packets in (2000 bytes): tx 1, redirect 2, pass 3, drop 4, aborted 0\n  \
                 eth1: index 3, down, mtu 1500, XDP none\n    \
                 30 packets in (3000 bytes): tx 1, redirect 2, pass 3, drop 4, aborted 0\nServices:"
            ),
            "{}",
            status(&two)
        );
    }
}
