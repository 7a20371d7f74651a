//! The daemon settings of a config: the interface and XDP mode, pins, the connection table,
//! the director's addresses, idle timeouts and IPVS's sysctls; and their validation.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use lb_common::{
    CONN_S_ESTABLISHED, CONN_S_FIN_WAIT, CONN_S_SCTP, CONN_S_UDP, SCTP_TIMEOUTS_S, TCP_TIMEOUTS_S,
    is_sctp_state,
};
use serde::{Deserialize, Serialize};

use super::{Config, Errors, Form, MAX_CONN_REUSE_MODE, MAX_EXPIRATION_S, MAX_INTERFACES};

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum XdpMode {
    /// Driver mode; lbd refuses to start if the driver cannot do it.
    #[default]
    Native,
    /// Generic (skb) mode: slower, works on any interface. Only when asked for.
    Generic,
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Director {
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
}

/// Idle timeouts in seconds, as `ipvsadm --set tcp tcpfin udp` sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Established TCP connections.
    #[serde(default = "default_tcp")]
    pub tcp: u32,
    /// TCP connections after FIN or RST.
    #[serde(default = "default_tcpfin")]
    pub tcpfin: u32,
    /// UDP "connections".
    #[serde(default = "default_udp")]
    pub udp: u32,
}

fn default_tcp() -> u32 {
    900
}
fn default_tcpfin() -> u32 {
    120
}
fn default_udp() -> u32 {
    300
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            tcp: default_tcp(),
            tcpfin: default_tcpfin(),
            udp: default_udp(),
        }
    }
}

/// Range of `conn_table_size` and `conn_table_size_v6`.
pub const MIN_CONN_TABLE_SIZE: u32 = 1024;
pub const MAX_CONN_TABLE_SIZE: u32 = 1 << 26;
/// Range of the idle timeouts, seconds (a year at most).
pub const MAX_TIMEOUT_S: u32 = 31_536_000;
/// The longest interface name (the kernel's IFNAMSIZ less its NUL), in bytes.
pub const MAX_INTERFACE_LEN: usize = 15;
/// The fields [`restart_only_changes`] compares: read when lbd starts, so that `lbctl apply`
/// and a `SIGHUP` reload refuse a change to them (restart lbd to change one).
pub const RESTART_ONLY: &[&str] = &[
    "xdp_mode",
    "pin_dir",
    "conn_table_size",
    "conn_table_size_v6",
    "metrics_listen",
    "announce",
    "sync",
];

impl Timeouts {
    /// The idle timeout of a connection in `state` (`CONN_S_*`), in nanoseconds: as ipvsadm's
    /// `--set tcp tcpfin udp` sets IPVS's, ESTABLISHED's, FIN_WAIT's and UDP's from the
    /// config; every other TCP state's is IPVS's default (`lb_common::TCP_TIMEOUTS_S`), and
    /// every SCTP state's too (`lb_common::SCTP_TIMEOUTS_S`: ipvsadm sets none of them).
    pub fn for_state(&self, state: u8) -> u64 {
        let s = match state {
            CONN_S_ESTABLISHED => self.tcp,
            CONN_S_FIN_WAIT => self.tcpfin,
            CONN_S_UDP => self.udp,
            s if is_sctp_state(s) => SCTP_TIMEOUTS_S[(s - CONN_S_SCTP) as usize],
            _ => TCP_TIMEOUTS_S
                .get(state as usize)
                .copied()
                .unwrap_or(self.tcpfin),
        };
        s as u64 * 1_000_000_000
    }
}

/// The daemon settings' checks.
pub(super) fn validate<F: Form>(cfg: &Config<F>, err: &mut Errors) {
    validate_interfaces(cfg, err);
    for (name, a) in [
        ("director.ipv4", cfg.director.ipv4.map(IpAddr::V4)),
        ("director.ipv6", cfg.director.ipv6.map(IpAddr::V6)),
    ] {
        if let Some(why) = a.and_then(super::address::not_unicast) {
            err.add(name, why);
        }
    }
    for (name, v) in [
        ("conn_table_size", cfg.conn_table_size),
        ("conn_table_size_v6", cfg.conn_table_size_v6),
    ] {
        if let Some(n) = v
            && !(MIN_CONN_TABLE_SIZE..=MAX_CONN_TABLE_SIZE).contains(&n)
        {
            err.add(
                name,
                format!("{n} is out of range ({MIN_CONN_TABLE_SIZE} to {MAX_CONN_TABLE_SIZE})"),
            );
        }
    }
    if let Some(m) = cfg.conn_reuse_mode
        && m > MAX_CONN_REUSE_MODE
    {
        err.add(
            "conn_reuse_mode",
            format!("{m} is out of range (0 to {MAX_CONN_REUSE_MODE})"),
        );
    }
    for (name, v) in [
        ("tcp", cfg.timeouts.tcp),
        ("tcpfin", cfg.timeouts.tcpfin),
        ("udp", cfg.timeouts.udp),
    ] {
        if !(1..=MAX_TIMEOUT_S).contains(&v) {
            err.add(
                format!("timeouts.{name}"),
                format!("{v} is out of range (1 to {MAX_TIMEOUT_S} seconds)"),
            );
        }
    }
    for (name, v) in [
        ("lblc_expiration", cfg.lblc_expiration),
        ("lblcr_expiration", cfg.lblcr_expiration),
    ] {
        if let Some(v) = v
            && !(1..=MAX_EXPIRATION_S).contains(&v)
        {
            err.add(
                name,
                format!("{v} is out of range (1 to {MAX_EXPIRATION_S} seconds)"),
            );
        }
    }
}

/// `interface` (the shorthand) or `interfaces`: exactly one of them, each a name the kernel
/// could have, none twice.
fn validate_interfaces<F: Form>(cfg: &Config<F>, err: &mut Errors) {
    let named: Vec<(String, &String)> = match (&cfg.interface, cfg.interfaces.is_empty()) {
        (Some(_), false) => {
            err.add(
                "interfaces",
                "both \"interface\" and \"interfaces\" are given: give one (\"interface\": \"eth0\" is the shorthand of \"interfaces\": [\"eth0\"])",
            );
            return;
        }
        (None, true) => {
            err.add(
                "interfaces",
                "required: the interfaces lb is attached to (or \"interface\" for one)",
            );
            return;
        }
        (Some(i), true) => vec![("interface".to_string(), i)],
        (None, false) => cfg
            .interfaces
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("interfaces[{i}]"), n))
            .collect(),
    };
    if named.len() > MAX_INTERFACES {
        err.add(
            "interfaces",
            format!(
                "{} interfaces is too many (at most {MAX_INTERFACES})",
                named.len()
            ),
        );
    }
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (path, name) in &named {
        if name.is_empty()
            || name.len() > MAX_INTERFACE_LEN
            || name.contains('/')
            || name.contains(char::is_whitespace)
        {
            err.add(
                path.clone(),
                format!(
                    "{name:?} is not an interface name (1 to {MAX_INTERFACE_LEN} characters, no '/' or space)"
                ),
            );
        } else if let Some(first) = seen.get(name.as_str()) {
            err.add(
                path.clone(),
                format!("duplicate interface {name:?}: already at {first}"),
            );
        } else {
            seen.insert(name.as_str(), path.as_str());
        }
    }
}

/// The settings that need a restart of lbd: loading, attaching and pinning depend on them.
pub fn restart_only_changes<F: Form, G: Form>(
    running: &Config<F>,
    new: &Config<G>,
) -> Vec<super::ConfigError> {
    let mut out = Vec::new();
    let mut check = |field: &str, a: String, b: String| {
        if a != b {
            out.push(super::ConfigError::new(
                field,
                format!(
                    "cannot change while lbd runs (running: {a}, new: {b}); restart lbd to change it"
                ),
            ));
        }
    };
    check(
        "xdp_mode",
        running.xdp_mode.to_string(),
        new.xdp_mode.to_string(),
    );
    check(
        "pin_dir",
        running.pin_dir().display().to_string(),
        new.pin_dir().display().to_string(),
    );
    check(
        "conn_table_size",
        running.conn_table_size().to_string(),
        new.conn_table_size().to_string(),
    );
    // Unset, the IPv6 table's size follows conn_table_size (which says so itself).
    if running.conn_table_size_v6.is_some() || new.conn_table_size_v6.is_some() {
        check(
            "conn_table_size_v6",
            running.conn_table_size_v6().to_string(),
            new.conn_table_size_v6().to_string(),
        );
    }
    check(
        "metrics_listen",
        format!("{:?}", running.metrics_listen),
        format!("{:?}", new.metrics_listen),
    );
    check(
        "announce",
        serde_json::to_string(&running.announce).unwrap_or_default(),
        serde_json::to_string(&new.announce).unwrap_or_default(),
    );
    check(
        "sync",
        serde_json::to_string(&running.sync).unwrap_or_default(),
        serde_json::to_string(&new.sync).unwrap_or_default(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        Config::parse(
            r#"{ "interface": "eth0", "director": { "ipv4": "10.0.0.2" }, "services": [
                { "protocol": "tcp", "vip": "192.168.0.1", "port": 80, "scheduler": "rr",
                  "real_servers": [ { "address": "172.16.0.1", "forwarding": "nat" } ] } ] }"#,
            "t",
        )
        .unwrap()
    }

    #[test]
    fn restart_only_names_every_field_compared_and_no_other() {
        let mut n = base();
        n.xdp_mode = XdpMode::Generic;
        n.pin_dir = Some("/sys/fs/bpf/other".into());
        n.conn_table_size = Some(4096);
        n.conn_table_size_v6 = Some(2048);
        n.metrics_listen = Some("127.0.0.1:9999".parse().unwrap());
        n.announce =
            Some(serde_json::from_str(r#"{ "include_file": "/etc/bird/lb.conf" }"#).unwrap());
        n.sync = Some(serde_json::from_str("{}").unwrap());
        // The settings a running lbd changes.
        n.interface = None;
        n.interfaces = vec!["eth1".into(), "eth2".into()];
        n.timeouts.tcp = 1;
        n.director.ipv4 = Some("10.0.0.3".parse().unwrap());
        n.sloppy_tcp = true;
        n.sloppy_sctp = true;
        n.conn_reuse_mode = Some(0);
        n.flood_rate = Some(1);
        n.expire_nodest_conn = true;
        n.lblc_expiration = Some(1);
        n.lblcr_expiration = Some(1);
        n.services.clear();
        let fields: Vec<String> = restart_only_changes(&base(), &n)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(fields, RESTART_ONLY);
    }

    #[test]
    fn daemon_settings_need_a_restart() {
        let mut n = base();
        n.interface = Some("eth1".into());
        n.xdp_mode = XdpMode::Generic;
        n.conn_table_size = Some(4096);
        let e: Vec<String> = restart_only_changes(&base(), &n)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            e,
            vec![
                "xdp_mode: cannot change while lbd runs (running: native, new: generic); restart lbd to change it",
                "conn_table_size: cannot change while lbd runs (running: 1048576, new: 4096); restart lbd to change it",
            ]
        );
    }
}
