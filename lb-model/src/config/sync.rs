//! The `sync` section of a config: connection synchronisation between directors (IPVS's sync
//! daemon, protocol version 1 on the wire). A director may send its connections (ipvsadm's
//! `master` daemon), apply the others' (`backup`), or both (active/active). Messages go to a
//! multicast group on one interface (IPVS's way), or to a list of unicast peers where the
//! directors share no link.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use serde::{Deserialize, Serialize};

use super::{Errors, daemon::MAX_INTERFACE_LEN};

/// IPVS's multicast group (`IP_VS_SYNC_GROUP`).
pub const DEFAULT_SYNC_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// IPVS's port (`IP_VS_SYNC_PORT`).
pub const DEFAULT_SYNC_PORT: u16 = 8848;
/// The largest message lbd sends unless told: an Ethernet frame's UDP payload over IPv4.
pub const DEFAULT_SYNC_MAXLEN: u16 = 1472;
/// The same over IPv6 (an IPv6 group or IPv6 peers): 1500 less the 40-byte IPv6 header and
/// UDP's 8, as the kernel's master computes it (`start_sync_thread`).
pub const DEFAULT_SYNC_MAXLEN_V6: u16 = 1452;
/// The largest message (a UDP payload over IPv4), as ipvsadm's `--sync-maxlen` allows.
pub const MAX_SYNC_MAXLEN: u16 = 65535 - 20 - 8;
/// The smallest message that holds a record: the 8-byte header and a 36-byte IPv4 record.
pub const MIN_SYNC_MAXLEN: u16 = 44;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Send this director's connections (ipvsadm `--start-daemon master`). Default true.
    #[serde(default = "yes")]
    pub send: bool,
    /// Apply other directors' connections to the connection table (ipvsadm `--start-daemon
    /// backup`). Default true.
    #[serde(default = "yes")]
    pub receive: bool,
    /// ipvsadm `--syncid`: sent in every message; a receiver with a syncid other than 0
    /// refuses messages of another. Default 0.
    #[serde(default)]
    pub syncid: u8,
    /// ipvsadm `--mcast-interface`: where multicast messages go out and are received.
    /// Default: the first of the config's interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_interface: Option<String>,
    /// ipvsadm `--mcast-group`: an IPv4 or IPv6 multicast group (an IPv6 one is joined on
    /// `mcast_interface`, as the kernel's `IPV6_JOIN_GROUP`). Default 224.0.0.81.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_group: Option<IpAddr>,
    /// ipvsadm `--mcast-port`: the UDP port messages go to and are received on (also with
    /// `peers`). Default 8848.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_port: Option<u16>,
    /// ipvsadm `--mcast-ttl`. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_ttl: Option<u8>,
    /// ipvsadm `--sync-maxlen`: the largest message's UDP payload. Default 1472 (1452 over
    /// IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_maxlen: Option<u16>,
    /// Unicast peers (address:port) to send to instead of the multicast group; received
    /// messages then come on `mcast_port` of any address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<SocketAddr>,
    /// Directors (address:port, TCP) lbd asks, when it starts, for their whole connection
    /// table (a bulk sync) before it announces any VIP; each answers on its `mcast_port`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bulk_from: Vec<SocketAddr>,
    /// A file holding the directors' shared key (at least 16 bytes; one trailing newline is
    /// not part of it), read when the daemons start: every message sent (bulk sync too) then
    /// carries lb's authentication TLV (a sequence number and an HMAC-SHA256 MAC), and a
    /// message without a valid one, or replayed, is refused and counted. Without it, plain
    /// IPVS messages are sent and accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key_file: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

impl SyncConfig {
    pub fn group(&self) -> IpAddr {
        self.mcast_group.unwrap_or(IpAddr::V4(DEFAULT_SYNC_GROUP))
    }
    /// Whether messages go over IPv6: to an IPv6 group, or (with `peers`) to an IPv6 peer.
    pub fn over_ipv6(&self) -> bool {
        if self.peers.is_empty() {
            self.group().is_ipv6()
        } else {
            self.peers.iter().any(|p| p.is_ipv6())
        }
    }
    pub fn port(&self) -> u16 {
        self.mcast_port.unwrap_or(DEFAULT_SYNC_PORT)
    }
    pub fn ttl(&self) -> u8 {
        self.mcast_ttl.unwrap_or(1)
    }
    pub fn maxlen(&self) -> u16 {
        self.sync_maxlen.unwrap_or(if self.over_ipv6() {
            DEFAULT_SYNC_MAXLEN_V6
        } else {
            DEFAULT_SYNC_MAXLEN
        })
    }
    /// The section's errors on its own (what a config's validation reports for it), e.g.
    /// for options given on a command line.
    pub fn errors(&self) -> Vec<super::ConfigError> {
        let mut e = Errors::default();
        validate(self, &mut e);
        e.0
    }

    /// The interface of multicast messages (`interface`: the first of the config's).
    pub fn interface<'a>(&'a self, interface: &'a str) -> &'a str {
        self.mcast_interface.as_deref().unwrap_or(interface)
    }
}

/// The section's checks, each error naming its field.
pub(super) fn validate(s: &SyncConfig, err: &mut Errors) {
    if !s.send && !s.receive {
        err.add(
            "sync",
            "sends nothing and receives nothing: set send or receive (or remove the section)",
        );
    }
    if let Some(i) = &s.mcast_interface
        && (i.is_empty()
            || i.len() > MAX_INTERFACE_LEN
            || i.contains('/')
            || i.contains(char::is_whitespace))
    {
        err.add(
            "sync.mcast_interface",
            format!(
                "{i:?} is not an interface name (1 to {MAX_INTERFACE_LEN} characters, no '/' or space)"
            ),
        );
    }
    if let Some(g) = s.mcast_group
        && !g.is_multicast()
    {
        err.add(
            "sync.mcast_group",
            match g {
                IpAddr::V4(_) => format!("{g} is not an IPv4 multicast address (224.0.0.0/4)"),
                IpAddr::V6(_) => format!("{g} is not an IPv6 multicast address (ff00::/8)"),
            },
        );
    }
    if s.mcast_port == Some(0) {
        err.add("sync.mcast_port", "port 0 is not allowed (1 to 65535)");
    }
    if s.mcast_ttl == Some(0) {
        err.add("sync.mcast_ttl", "0 is out of range (1 to 255)");
    }
    if let Some(m) = s.sync_maxlen
        && !(MIN_SYNC_MAXLEN..=MAX_SYNC_MAXLEN).contains(&m)
    {
        err.add(
            "sync.sync_maxlen",
            format!("{m} is out of range ({MIN_SYNC_MAXLEN} to {MAX_SYNC_MAXLEN} bytes)"),
        );
    }
    if let Some(p) = &s.auth_key_file {
        super::announce::check_file_path("sync.auth_key_file", p, err);
    }
    let lists = [("peers", &s.peers), ("bulk_from", &s.bulk_from)];
    for (i, p, name) in lists
        .iter()
        .flat_map(|(name, l)| l.iter().enumerate().map(move |(i, p)| (i, p, *name)))
    {
        let path = format!("sync.{name}[{i}]");
        if p.port() == 0 {
            err.add(&path, "port 0 is not allowed (1 to 65535)");
        }
        if let Some(why) = super::address::not_unicast(p.ip()) {
            err.add(&path, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn errors(sync: &str) -> Vec<String> {
        let text = format!(r#"{{ "interface": "eth0", "sync": {sync} }}"#);
        match Config::parse(&text, "t") {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_are_ipvs_and_the_config_interface() {
        let c = Config::parse(r#"{ "interface": "eth0", "sync": {} }"#, "t").unwrap();
        let s = c.sync.expect("sync");
        assert!(s.send && s.receive);
        assert_eq!(
            (
                s.group().to_string(),
                s.port(),
                s.ttl(),
                s.maxlen(),
                s.syncid
            ),
            ("224.0.0.81".into(), 8848, 1, 1472, 0)
        );
        assert_eq!(s.interface("eth0"), "eth0");
    }

    #[test]
    fn an_ipv6_group_is_taken_and_its_messages_fit_an_ipv6_frame() {
        let c = Config::parse(
            r#"{ "interface": "eth0", "sync": { "mcast_group": "ff02::81" } }"#,
            "t",
        )
        .unwrap();
        let s = c.sync.expect("sync");
        assert_eq!(s.group().to_string(), "ff02::81");
        assert!(s.over_ipv6());
        assert_eq!(s.maxlen(), 1452);
        let c = Config::parse(
            r#"{ "interface": "eth0", "sync": { "mcast_group": "ff02::81",
                 "peers": ["198.18.0.3:8848"] } }"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.sync.expect("sync").maxlen(), 1472, "IPv4 peers");
        assert_eq!(
            errors(r#"{ "mcast_group": "2001:2::81" }"#),
            ["sync.mcast_group: 2001:2::81 is not an IPv6 multicast address (ff00::/8)"]
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_field() {
        assert_eq!(
            errors(
                r#"{ "send": false, "receive": false, "mcast_group": "10.0.0.1", "mcast_port": 0,
                     "mcast_ttl": 0, "sync_maxlen": 20, "mcast_interface": "",
                     "peers": ["10.0.0.3:0", "224.0.0.1:8848"], "bulk_from": ["10.0.0.3:0"],
                     "auth_key_file": "key" }"#
            ),
            vec![
                "sync: sends nothing and receives nothing: set send or receive (or remove the section)",
                r#"sync.mcast_interface: "" is not an interface name (1 to 15 characters, no '/' or space)"#,
                "sync.mcast_group: 10.0.0.1 is not an IPv4 multicast address (224.0.0.0/4)",
                "sync.mcast_port: port 0 is not allowed (1 to 65535)",
                "sync.mcast_ttl: 0 is out of range (1 to 255)",
                "sync.sync_maxlen: 20 is out of range (44 to 65507 bytes)",
                r#"sync.auth_key_file: "key" is not an absolute path"#,
                "sync.peers[0]: port 0 is not allowed (1 to 65535)",
                "sync.peers[1]: 224.0.0.1 is a multicast address: lb balances unicast traffic",
                "sync.bulk_from[0]: port 0 is not allowed (1 to 65535)",
            ]
        );
        assert!(errors(r#"{ "syncid": 256 }"#)[0].starts_with("sync.syncid: invalid value"));
    }
}
