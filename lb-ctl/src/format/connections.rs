//! `-L -c`: connections and persistence templates.

use std::fmt::Write as _;

use lb_model::api::ConnView;

use super::{address::addrport_any, lookup::Resolve, names::protocol_name};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{
        Numeric,
        fixtures::{Names, conn},
    };

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
}
