//! The IPVS sysctls lb honours (`net.ipv4.vs.*` in the kernel, Documentation/networking/
//! ipvs-sysctl.rst), each one a field of lb's config: `lbctl sysctl` lists them with the
//! running values and sets them (`-w NAME=VALUE`) by applying the config with that field
//! changed. IPVS's other sysctls have no effect on lb; the README lists them with the reason.

use crate::config::{Config, MAX_CONN_REUSE_MODE, MAX_EXPIRATION_S, Raw};

/// The prefix of IPVS's sysctls.
pub const PREFIX: &str = "net.ipv4.vs.";

/// One sysctl: its IPVS name, the config field that holds it, IPVS's default, what it does
/// in lb, and how its value is read from and written to a config.
pub struct Sysctl {
    /// IPVS's name, without [`PREFIX`].
    pub name: &'static str,
    /// The config field (`lbctl get config`, the config file).
    pub field: &'static str,
    /// The value when the config leaves the field out (IPVS's default).
    pub default: u64,
    /// The values it takes, inclusive.
    pub range: (u64, u64),
    /// What it does in lb.
    pub doc: &'static str,
    pub get: fn(&Config<Raw>) -> u64,
    /// Sets the field; the value is within [`Sysctl::range`].
    pub set: fn(&mut Config<Raw>, u64),
}

/// Every IPVS sysctl lb honours, in IPVS's documentation's order.
pub const SYSCTLS: &[Sysctl] = &[
    Sysctl {
        name: "conn_reuse_mode",
        field: "conn_reuse_mode",
        default: 1,
        range: (0, MAX_CONN_REUSE_MODE as u64),
        doc: "what a SYN of a connection in TIME_WAIT or CLOSE does: non-zero, it ends that \
              connection and starts a new one, scheduled and counted anew; with bit 2 (2 or \
              3) so does one of a dr / tun connection in FIN_WAIT, the last state the \
              director sees of those; 0: it goes on to the old connection's real server",
        get: |c| u64::from(c.conn_reuse_mode()),
        set: |c, v| c.conn_reuse_mode = Some(v as u32),
    },
    Sysctl {
        name: "expire_nodest_conn",
        field: "expire_nodest_conn",
        default: 0,
        range: (0, 1),
        doc: "1: when a real server (or its service) is removed, lbd removes its connections \
              at once, so that their next packets are scheduled to the remaining real \
              servers; 0: they go on to the removed real server until they end",
        get: |c| u64::from(c.expire_nodest_conn),
        set: |c, v| c.expire_nodest_conn = v != 0,
    },
    Sysctl {
        name: "lblc_expiration",
        field: "lblc_expiration",
        default: 86400,
        range: (1, MAX_EXPIRATION_S as u64),
        doc: "seconds: an lblc destination's mapping to a real server idle this long is \
              removed (lbd checks every 2 s)",
        get: |c| c.lblc_expiration.map_or(86400, u64::from),
        set: |c, v| c.lblc_expiration = Some(v as u32),
    },
    Sysctl {
        name: "lblcr_expiration",
        field: "lblcr_expiration",
        default: 86400,
        range: (1, MAX_EXPIRATION_S as u64),
        doc: "seconds: an lblcr destination's server set idle this long is removed, and a set \
              unchanged this long loses its most loaded member when next used",
        get: |c| c.lblcr_expiration.map_or(86400, u64::from),
        set: |c, v| c.lblcr_expiration = Some(v as u32),
    },
    Sysctl {
        name: "sloppy_sctp",
        field: "sloppy_sctp",
        default: 0,
        range: (0, 1),
        doc: "1: an SCTP packet whose first chunk is no INIT, of an association lb does not \
              hold, is scheduled as a new association by every scheduler; 0: only the hash \
              schedulers (sh, dh, mh) schedule it, the others drop it (counted as \
              drop_sctp_mid_flow); an ABORT starts no association",
        get: |c| u64::from(c.sloppy_sctp),
        set: |c, v| c.sloppy_sctp = v != 0,
    },
    Sysctl {
        name: "sloppy_tcp",
        field: "sloppy_tcp",
        default: 0,
        range: (0, 1),
        doc: "1: a TCP packet other than a SYN of a connection lb does not hold (one it never \
              saw, or forgot) is scheduled as a new connection by every scheduler; 0: only \
              the hash schedulers (sh, dh, mh, whose choice every director shares) schedule \
              it, the others drop it (counted as drop_tcp_mid_flow); a RST starts no connection",
        get: |c| u64::from(c.sloppy_tcp),
        set: |c, v| c.sloppy_tcp = v != 0,
    },
];

/// The sysctl a name designates: `net.ipv4.vs.NAME`, `net/ipv4/vs/NAME` (as sysctl(8) takes
/// them) or `NAME` alone.
pub fn find(name: &str) -> Option<&'static Sysctl> {
    let short = name
        .strip_prefix(PREFIX)
        .or_else(|| name.strip_prefix("net/ipv4/vs/"))
        .unwrap_or(name);
    SYSCTLS.iter().find(|s| s.name == short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_what_a_config_without_the_fields_reads_as() {
        let empty = Config::read(r#"{"interface": "eth0"}"#).unwrap();
        for s in SYSCTLS {
            assert_eq!((s.get)(&empty), s.default, "{}", s.name);
            assert!(!s.doc.is_empty());
            assert!((s.range.0..=s.range.1).contains(&s.default), "{}", s.name);
        }
    }

    #[test]
    fn set_then_get_gives_the_value_back_and_names_take_every_form() {
        let mut c = Config::read(r#"{"interface": "eth0"}"#).unwrap();
        for s in SYSCTLS {
            (s.set)(&mut c, s.range.1);
            assert_eq!((s.get)(&c), s.range.1, "{}", s.name);
            // The config field is the one the JSON has.
            let v = serde_json::to_value(&c).unwrap();
            assert!(v.get(s.field).is_some(), "{}", s.field);
        }
        let e = find("expire_nodest_conn").unwrap();
        assert!(std::ptr::eq(
            e,
            find("net.ipv4.vs.expire_nodest_conn").unwrap()
        ));
        assert!(std::ptr::eq(
            e,
            find("net/ipv4/vs/expire_nodest_conn").unwrap()
        ));
        assert!(find("net.ipv4.vs.secure_tcp").is_none());
        assert!(find("net.ipv4.ip_forward").is_none());
    }
}
