//! lbd's JSON configuration: parsing (syntax errors carry line and column, type errors the
//! JSON path) and validation (every error names the JSON path and what is allowed). A config
//! with any error is rejected whole, before anything is loaded, attached or changed.

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// IPVS's schedulers, by ipvsadm name.
pub const KNOWN_SCHEDULERS: [&str; 13] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf",
];
/// Scheduler flags (ipvsadm `-b`) each scheduler accepts.
pub fn sched_flags_for(sched: &str) -> &'static [&'static str] {
    match sched {
        "sh" => &["sh-fallback", "sh-port"],
        "mh" => &["mh-fallback", "mh-port"],
        _ => &[],
    }
}
/// Most connections a threshold may name (ipvsadm takes an int).
pub const MAX_THRESHOLD: u32 = i32::MAX as u32;
/// Range of `lblc_expiration` / `lblcr_expiration`, seconds (a year at most).
pub const MAX_EXPIRATION_S: u32 = 31_536_000;
/// IPVS's forwarding methods, by our config names (ipvsadm `-i`, `-g`, `-m`).
pub const KNOWN_FORWARDING: [&str; 3] = ["tun", "dr", "nat"];
/// ipvsadm's weight range.
pub const MAX_WEIGHT: u32 = i32::MAX as u32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The interface `lb` is attached to (clients' traffic arrives there).
    pub interface: String,
    #[serde(default)]
    pub xdp_mode: XdpMode,
    /// The director's own addresses: the outer source of tunnelled packets.
    #[serde(default)]
    pub director: Director,
    /// Where lbd pins its maps (on a bpffs). Default `/sys/fs/bpf/lb`.
    #[serde(default)]
    pub pin_dir: Option<PathBuf>,
    /// Capacity of the IPv4 connection table. Default `lb_common::DEFAULT_MAX_CONNS`.
    #[serde(default)]
    pub conn_table_size: Option<u32>,
    /// Capacity of the IPv6 connection table. Default: a quarter of `conn_table_size`, at
    /// least 1024.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_table_size_v6: Option<u32>,
    /// IPVS's `sloppy_tcp`: a TCP packet other than a SYN of a connection lb does not hold is
    /// scheduled as a new connection by every scheduler. Default false: only the hash
    /// schedulers (`sh`, `dh`, `mh`) schedule it (every director makes the same choice); the
    /// others drop it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sloppy_tcp: bool,
    /// IPVS's `conn_reuse_mode`: non-zero, a SYN of a connection lb holds in a closing state
    /// ends it and starts a new connection, scheduled and counted anew; 0, the SYN goes on to
    /// the old connection's real server. Default 1 (IPVS's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_reuse_mode: Option<u32>,
    /// Flood mode: above this many new connections per second on one CPU, new connections of
    /// hash-scheduled services (`sh`, `dh`, `mh`) are forwarded by the hash and recorded
    /// nowhere (Katran's flood mode); 0 turns it off. Default 125000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flood_rate: Option<u32>,
    /// Address of the Prometheus metrics endpoint (`GET /metrics`). Default
    /// `crate::metrics::DEFAULT_LISTEN` (loopback).
    #[serde(default)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Idle timeouts (ipvsadm `--set tcp tcpfin udp`), seconds.
    #[serde(default)]
    pub timeouts: crate::conntrack::Timeouts,
    /// IPVS's `expire_nodest_conn`: when a real server is removed from its service (or the
    /// service is removed), lbd expires its connections at once; their next packets are
    /// scheduled anew. Default false: they keep flowing to it until they end.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expire_nodest_conn: bool,
    /// IPVS's `lblc_expiration`, seconds: an `lblc` destination's mapping idle this long is
    /// removed. Default 86400 (24 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lblc_expiration: Option<u32>,
    /// IPVS's `lblcr_expiration`, seconds: an `lblcr` destination's mapping idle this long is
    /// removed, and a server set unchanged this long loses its most loaded member on its next
    /// use. Default 86400 (24 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lblcr_expiration: Option<u32>,
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => lb_common::PROTO_TCP,
            Protocol::Udp => lb_common::PROTO_UDP,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub protocol: Protocol,
    pub vip: IpAddr,
    pub port: u16,
    /// ipvsadm scheduler name; ipvsadm's default is `wlc`.
    #[serde(default = "default_scheduler")]
    pub scheduler: String,
    /// Lookup-table size for `mh` (a prime). Default 65537.
    #[serde(default)]
    pub mh_table_size: Option<u32>,
    /// Persistence timeout in seconds (ipvsadm `-p`; 300 there when given without a value):
    /// new connections from a client network go to the same real server while its last
    /// connection is younger than this.
    #[serde(default)]
    pub persistent: Option<u32>,
    /// The client network of persistence, as a prefix length (ipvsadm `-M`). Default: one
    /// address (32 / 128).
    #[serde(default)]
    pub persistent_netmask: Option<u8>,
    /// Scheduler flags (ipvsadm `-b`): `sh-fallback`, `sh-port` for `sh`; `mh-fallback`,
    /// `mh-port` for `mh`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sched_flags: Vec<String>,
    /// One-packet scheduling (ipvsadm `-o`, UDP only): every datagram is scheduled on its own
    /// and no connection entry is made.
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_packet: bool,
    #[serde(default)]
    pub real_servers: Vec<RealServerConfig>,
    /// The health check of every real server that has none of its own (see
    /// `crate::health::CheckConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<crate::health::CheckConfig>,
    /// keepalived's `sorry_server`: a server that takes the service's new connections only
    /// while none of its real servers can (all down, draining or of weight 0). Without one,
    /// such a service drops new connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<RealServerConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RealServerConfig {
    pub address: IpAddr,
    /// Default: the service's port.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// `tun`, `dr` or `nat`; ipvsadm's default is `dr` (`-g`).
    #[serde(default = "default_forwarding")]
    pub forwarding: String,
    /// Tunnel type of a `tun` real server (ipvsadm `--tun-type`): `ipip` (default: IPIP,
    /// IPv6-in-IPv6 or across families by the real server's address), `gue` (UDP to
    /// `tun_port`) or `gre`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_type: Option<String>,
    /// UDP destination port of GUE encapsulation (ipvsadm `--tun-port`); required for `gue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_port: Option<u16>,
    /// Checksum mode of GUE or GRE encapsulation: `nocsum` (default), `csum` or (GUE)
    /// `remcsum` (ipvsadm `--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun_csum: Option<String>,
    /// Upper connection threshold (ipvsadm `-x`): above this many connections the real server
    /// gets no new ones. 0 or unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_threshold: Option<u32>,
    /// Lower connection threshold (ipvsadm `-y`): an overloaded real server takes new
    /// connections again below this. Unset: three quarters of the upper threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_threshold: Option<u32>,
    /// This real server's health check (instead of its service's; `{"type": "none"}` for
    /// none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<crate::health::CheckConfig>,
}

fn default_scheduler() -> String {
    "wlc".into()
}
impl RealServerConfig {
    /// The fields a real server read back from a running data plane cannot tell (lbd adopting
    /// it after a restart): defaults, replaced by the config's on the next apply.
    pub fn adopted() -> Self {
        Self {
            address: std::net::Ipv4Addr::UNSPECIFIED.into(),
            port: None,
            weight: 0,
            forwarding: default_forwarding(),
            tun_type: None,
            tun_port: None,
            tun_csum: None,
            upper_threshold: None,
            lower_threshold: None,
            health_check: None,
        }
    }
}

impl ServiceConfig {
    /// A service read back from a running data plane (see [`RealServerConfig::adopted`]).
    pub fn adopted(key: &lb_common::VipKey) -> Self {
        let protocol = if key.proto == lb_common::PROTO_UDP {
            Protocol::Udp
        } else {
            Protocol::Tcp
        };
        Self {
            protocol,
            vip: crate::state::addr_of(&key.addr, key.family),
            port: u16::from_be(key.port),
            scheduler: default_scheduler(),
            mh_table_size: None,
            persistent: None,
            persistent_netmask: None,
            sched_flags: Vec::new(),
            one_packet: false,
            real_servers: Vec::new(),
            health_check: None,
            sorry_server: None,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn default_weight() -> u32 {
    1
}
fn default_forwarding() -> String {
    "dr".into()
}

/// One thing wrong with a config: where (a JSON path, or line and column) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every error found in a config, reported together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub source_name: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config {}:", self.source_name)?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            source_name: name.clone(),
            errors: vec![ConfigError {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        Config::parse(&text, &name)
    }

    /// Parses and validates config text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            source_name: source_name.into(),
            errors,
        };
        let de = &mut serde_json::Deserializer::from_str(text);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            fail(vec![ConfigError {
                // "." is the whole document; "" a field with an empty name at the top.
                path: if path == "." || path.is_empty() {
                    "(document)".into()
                } else {
                    path
                },
                message: inner.to_string(),
            }])
        })?;
        let errors = cfg.validate();
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(fail(errors))
        }
    }

    pub fn pin_dir(&self) -> PathBuf {
        self.pin_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/sys/fs/bpf/lb"))
    }

    pub fn conn_table_size(&self) -> u32 {
        self.conn_table_size.unwrap_or(lb_common::DEFAULT_MAX_CONNS)
    }

    /// The IPv6 connection table's capacity (a quarter of the IPv4 one's when unset).
    pub fn conn_table_size_v6(&self) -> u32 {
        self.conn_table_size_v6
            .unwrap_or((self.conn_table_size() / 4).max(1024))
    }

    /// `conn_reuse_mode` (IPVS's default, 1, when unset).
    pub fn conn_reuse_mode(&self) -> u32 {
        self.conn_reuse_mode.unwrap_or(1)
    }

    /// `flood_rate`, new connections per second per CPU (0: no flood mode).
    pub fn flood_rate(&self) -> u32 {
        self.flood_rate.unwrap_or(lb_common::DEFAULT_FLOOD_RATE)
    }

    /// `lblc_expiration` in seconds (IPVS's default when unset).
    pub fn lblc_expiration(&self) -> u32 {
        self.lblc_expiration
            .unwrap_or(lb_common::LOCALITY_DEFAULT_EXPIRATION_S)
    }

    /// `lblcr_expiration` in seconds (IPVS's default when unset).
    pub fn lblcr_expiration(&self) -> u32 {
        self.lblcr_expiration
            .unwrap_or(lb_common::LOCALITY_DEFAULT_EXPIRATION_S)
    }

    /// Semantic checks; an empty list means the config is usable.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        let mut err = |path: String, message: String| errs.push(ConfigError { path, message });
        if self.interface.is_empty() || self.interface.len() > 15 || self.interface.contains('/') {
            err(
                "interface".into(),
                format!(
                    "{:?} is not an interface name (1 to 15 characters, no '/')",
                    self.interface
                ),
            );
        }
        for (name, v) in [
            ("conn_table_size", self.conn_table_size),
            ("conn_table_size_v6", self.conn_table_size_v6),
        ] {
            if let Some(n) = v
                && !(1024..=1 << 26).contains(&n)
            {
                err(
                    name.into(),
                    format!("{n} is out of range (1024 to {})", 1u32 << 26),
                );
            }
        }
        if let Some(m) = self.conn_reuse_mode
            && m > 3
        {
            err(
                "conn_reuse_mode".into(),
                format!("{m} is out of range (0 to 3)"),
            );
        }
        for (name, v) in [
            ("tcp", self.timeouts.tcp),
            ("tcpfin", self.timeouts.tcpfin),
            ("udp", self.timeouts.udp),
        ] {
            if !(1..=31_536_000).contains(&v) {
                err(
                    format!("timeouts.{name}"),
                    format!("{v} is out of range (1 to 31536000 seconds)"),
                );
            }
        }
        for (name, v) in [
            ("lblc_expiration", self.lblc_expiration),
            ("lblcr_expiration", self.lblcr_expiration),
        ] {
            if let Some(v) = v
                && !(1..=MAX_EXPIRATION_S).contains(&v)
            {
                err(
                    name.into(),
                    format!("{v} is out of range (1 to {MAX_EXPIRATION_S} seconds)"),
                );
            }
        }
        if self.services.len() >= lb_common::MAX_SERVICES as usize {
            err(
                "services".into(),
                format!(
                    "{} services; at most {} are supported",
                    self.services.len(),
                    lb_common::MAX_SERVICES - 1
                ),
            );
        }
        let mut seen: HashMap<(Protocol, IpAddr, u16), usize> = HashMap::new();
        let mut table_slots: u64 = 0;
        for (i, s) in self.services.iter().enumerate() {
            let sp = format!("services[{i}]");
            if let Some(first) = seen.insert((s.protocol, s.vip, s.port), i) {
                err(
                    sp.clone(),
                    format!(
                        "duplicate service {} {}: already defined at services[{first}]",
                        s.protocol.name(),
                        fmt_addr_port(s.vip, s.port)
                    ),
                );
            }
            if s.port == 0 {
                err(
                    format!("{sp}.port"),
                    "port 0 is not allowed (1 to 65535)".into(),
                );
            }
            let sched = s.scheduler.as_str();
            if !KNOWN_SCHEDULERS.contains(&sched) {
                err(
                    format!("{sp}.scheduler"),
                    format!(
                        "unknown scheduler {sched:?}; valid: {}",
                        KNOWN_SCHEDULERS.join(", ")
                    ),
                );
            }
            let size = s
                .mh_table_size
                .unwrap_or(lb_common::MAGLEV_DEFAULT_TABLE_SIZE);
            let weighted = s.real_servers.iter().filter(|r| r.weight > 0).count();
            if sched == "mh" && weighted > size as usize {
                err(
                    format!("{sp}.mh_table_size"),
                    format!(
                        "{size} slots cannot hold {weighted} real servers of weight > 0 (choose a larger prime)"
                    ),
                );
            }
            if s.mh_table_size.is_some() && sched != "mh" {
                err(
                    format!("{sp}.mh_table_size"),
                    format!("only the mh scheduler has a table size (scheduler is {sched:?})"),
                );
            }
            if sched == "mh" && (!crate::maglev::is_prime(size) || !(7..=1_048_573).contains(&size))
            {
                err(
                    format!("{sp}.mh_table_size"),
                    format!("{size} is not a prime between 7 and 1048573"),
                );
            }
            if let Some(t) = s.persistent
                && !(1..=2_678_400).contains(&t)
            {
                err(
                    format!("{sp}.persistent"),
                    format!("{t} is out of range (1 to 2678400 seconds)"),
                );
            }
            let max_prefix = if s.vip.is_ipv6() { 128 } else { 32 };
            if let Some(m) = s.persistent_netmask {
                if m > max_prefix {
                    err(
                        format!("{sp}.persistent_netmask"),
                        format!(
                            "{m} is not a prefix length of the VIP's family (0 to {max_prefix})"
                        ),
                    );
                }
                if s.persistent.is_none() {
                    err(
                        format!("{sp}.persistent_netmask"),
                        "only a persistent service has a netmask (set persistent)".into(),
                    );
                }
            }
            for (k, f) in s.sched_flags.iter().enumerate() {
                let valid = sched_flags_for(sched);
                if let Some(first) = s.sched_flags[..k].iter().position(|g| g == f) {
                    err(
                        format!("{sp}.sched_flags[{k}]"),
                        format!("duplicate flag {f:?}: already given at {sp}.sched_flags[{first}]"),
                    );
                } else if !valid.contains(&f.as_str()) {
                    err(
                        format!("{sp}.sched_flags[{k}]"),
                        if valid.is_empty() {
                            format!(
                                "scheduler {sched:?} takes no flags (got {f:?}); sh takes sh-fallback, sh-port; mh takes mh-fallback, mh-port"
                            )
                        } else {
                            format!(
                                "unknown flag {f:?} for scheduler {sched:?}; valid: {}",
                                valid.join(", ")
                            )
                        },
                    );
                }
            }
            if s.one_packet && s.protocol != Protocol::Udp {
                err(
                    format!("{sp}.one_packet"),
                    "one-packet scheduling is for UDP services only".into(),
                );
            }
            let weights: Vec<u32> = s.real_servers.iter().map(|r| r.weight).collect();
            table_slots += 2 * crate::sched::table_len_bound(sched, size, &weights);
            let mut reals_seen: HashMap<(IpAddr, u16), usize> = HashMap::new();
            for (j, r) in s.real_servers.iter().enumerate() {
                let rp = format!("{sp}.real_servers[{j}]");
                let port = r.port.unwrap_or(s.port);
                let fwd = r.forwarding.as_str();
                if let Some(first) = reals_seen.insert((r.address, port), j) {
                    err(
                        rp.clone(),
                        format!(
                            "duplicate real server {}: already defined at {sp}.real_servers[{first}]",
                            fmt_addr_port(r.address, port)
                        ),
                    );
                }
                if (fwd == "dr" || fwd == "nat") && r.address.is_ipv6() != s.vip.is_ipv6() {
                    err(
                        format!("{rp}.address"),
                        format!(
                            "{} is {} but the VIP is {}: {fwd} keeps the packet's addresses' family; only tun crosses families",
                            r.address,
                            family_name(r.address),
                            family_name(s.vip)
                        ),
                    );
                }
                if r.port == Some(0) {
                    err(
                        format!("{rp}.port"),
                        "port 0 is not allowed (1 to 65535)".into(),
                    );
                }
                if r.weight > MAX_WEIGHT {
                    err(
                        format!("{rp}.weight"),
                        format!("{} is out of range (0 to {MAX_WEIGHT})", r.weight),
                    );
                }
                if !KNOWN_FORWARDING.contains(&fwd) {
                    err(
                        format!("{rp}.forwarding"),
                        format!(
                            "unknown forwarding method {fwd:?}; valid: {}",
                            KNOWN_FORWARDING.join(", ")
                        ),
                    );
                }
                match (r.tun_type.as_deref(), fwd) {
                    (None, _) | (Some("ipip"), "tun") => {}
                    (Some("gue") | Some("gre"), "tun") => {}
                    (Some(t), "tun") => err(
                        format!("{rp}.tun_type"),
                        format!("unknown tunnel type {t:?}; valid: ipip, gue, gre"),
                    ),
                    (Some(_), _) => err(
                        format!("{rp}.tun_type"),
                        format!("only a tun real server has a tunnel type (forwarding is {fwd:?})"),
                    ),
                }
                match (r.tun_type.as_deref(), r.tun_port) {
                    (Some("gue"), None) => err(
                        format!("{rp}.tun_port"),
                        "required for tun_type \"gue\" (the UDP port the real server decapsulates on)".into(),
                    ),
                    (Some("gue"), Some(0)) => err(
                        format!("{rp}.tun_port"),
                        "port 0 is not allowed (1 to 65535)".into(),
                    ),
                    (Some("gue"), Some(_)) | (_, None) => {}
                    (_, Some(_)) => err(
                        format!("{rp}.tun_port"),
                        "only a gue tunnel has a port (set tun_type to \"gue\")".into(),
                    ),
                }
                match (r.tun_type.as_deref(), r.tun_csum.as_deref()) {
                    (_, None) | (Some("gue" | "gre"), Some("nocsum")) => {}
                    // lb sends GUE with a zero UDP checksum (RFC 6935/6936 allow it for
                    // tunnels) and GRE without its optional checksum (RFC 2784).
                    (Some("gue"), Some(c @ ("csum" | "remcsum")))
                    | (Some("gre"), Some(c @ "csum")) => err(
                        format!("{rp}.tun_csum"),
                        format!("checksum mode {c:?} is not implemented yet; implemented: nocsum"),
                    ),
                    (Some("gue"), Some(c)) => err(
                        format!("{rp}.tun_csum"),
                        format!("unknown checksum mode {c:?}; valid: nocsum, csum, remcsum"),
                    ),
                    (Some("gre"), Some(c)) => err(
                        format!("{rp}.tun_csum"),
                        format!("unknown checksum mode {c:?} for gre; valid: nocsum, csum"),
                    ),
                    (_, Some(_)) => err(
                        format!("{rp}.tun_csum"),
                        "only a gue or gre tunnel has a checksum mode (set tun_type)".into(),
                    ),
                }
                for (name, v) in [
                    ("upper_threshold", r.upper_threshold),
                    ("lower_threshold", r.lower_threshold),
                ] {
                    if let Some(v) = v
                        && v > MAX_THRESHOLD
                    {
                        err(
                            format!("{rp}.{name}"),
                            format!("{v} is out of range (0 to {MAX_THRESHOLD} connections)"),
                        );
                    }
                }
                if let (Some(u), Some(l)) = (r.upper_threshold, r.lower_threshold)
                    && u > 0
                    && l > u
                {
                    err(
                        format!("{rp}.lower_threshold"),
                        format!("{l} is above the upper threshold {u}"),
                    );
                }
                if port != s.port && (fwd == "tun" || fwd == "dr") {
                    err(
                        format!("{rp}.port"),
                        format!(
                            "{port} differs from the service's port {}: only nat can change the port ({fwd} forwards the packet unchanged)",
                            s.port
                        ),
                    );
                }
                if fwd == "tun" && r.address.is_ipv4() && self.director.ipv4.is_none() {
                    err(
                        "director.ipv4".into(),
                        format!(
                            "required: {rp} is tunnelled over IPv4 and needs the director's IPv4 address as outer source"
                        ),
                    );
                }
                if fwd == "tun" && r.address.is_ipv6() && self.director.ipv6.is_none() {
                    err(
                        "director.ipv6".into(),
                        format!(
                            "required: {rp} is tunnelled over IPv6 and needs the director's IPv6 address as outer source"
                        ),
                    );
                }
            }
            if crate::sched::is_count_driven(sched)
                && s.real_servers.len() > lb_common::MAX_COUNTED_REALS as usize
            {
                err(
                    format!("{sp}.real_servers"),
                    format!(
                        "{} real servers; scheduler {sched:?} looks at every one for each new connection and takes at most {}",
                        s.real_servers.len(),
                        lb_common::MAX_COUNTED_REALS
                    ),
                );
            }
            if s.real_servers.len() >= lb_common::MAX_REALS as usize {
                err(
                    format!("{sp}.real_servers"),
                    format!("at most {} real servers", lb_common::MAX_REALS - 1),
                );
            }
        }
        if table_slots > lb_common::DEFAULT_SCHED_TABLE_SLOTS as u64 {
            err(
                "services".into(),
                format!(
                    "the services' scheduler tables need {table_slots} slots (two generations each) but the table holds {}; use smaller mh_table_size values",
                    lb_common::DEFAULT_SCHED_TABLE_SLOTS
                ),
            );
        }
        errs.extend(crate::health::validate(self));
        // Report director.ipv4 / ipv6 once, however many real servers need it.
        let mut seen_director = std::collections::HashSet::new();
        errs.retain(|e| !e.path.starts_with("director.") || seen_director.insert(e.path.clone()));
        errs
    }
}

fn family_name(a: IpAddr) -> &'static str {
    if a.is_ipv6() { "IPv6" } else { "IPv4" }
}

/// `1.2.3.4:80` or `[::1]:80`, as ipvsadm prints addresses.
pub fn fmt_addr_port(a: IpAddr, port: u16) -> String {
    match a {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
        "interface": "eth0",
        "director": { "ipv4": "10.0.0.2" },
        "services": [
            { "protocol": "tcp", "vip": "10.0.0.100", "port": 80, "scheduler": "mh",
              "real_servers": [
                { "address": "10.0.0.11", "forwarding": "tun" },
                { "address": "10.0.0.12", "port": 8080, "weight": 3, "forwarding": "nat" }
              ] }
        ]
    }"#;

    fn errors(text: &str) -> Vec<String> {
        match Config::parse(text, "t.json") {
            Ok(_) => panic!("config was accepted: {text}"),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = Config::parse(GOOD, "t.json").expect("valid");
        assert_eq!(c.xdp_mode, XdpMode::Native);
        assert_eq!(c.services[0].real_servers[0].weight, 1);
        assert_eq!(c.services[0].real_servers[0].port, None);
        assert_eq!(c.pin_dir(), PathBuf::from("/sys/fs/bpf/lb"));
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let e = errors("{\n  \"interface\": \"eth0\",\n  oops\n}");
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("line 3 column 3"), "{e:?}");
    }

    #[test]
    fn type_errors_name_the_json_path() {
        let bad = GOOD.replace("\"10.0.0.12\"", "\"10.0.0.x\"");
        assert_eq!(
            errors(&bad),
            vec![
                "services[0].real_servers[1].address: invalid IP address syntax at line 8 column 39"
            ]
        );
        let bad = GOOD.replace("\"weight\": 3", "\"weight\": -3");
        assert!(errors(&bad)[0].starts_with("services[0].real_servers[1].weight: invalid value"));
    }

    #[test]
    fn unknown_field_is_rejected_with_its_path() {
        let bad = GOOD.replace("\"weight\": 3", "\"wieght\": 3");
        assert_eq!(
            errors(&bad),
            vec![
                "services[0].real_servers[1].wieght: unknown field `wieght`, expected one of `address`, `port`, `weight`, `forwarding`, `tun_type`, `tun_port`, `tun_csum`, `upper_threshold`, `lower_threshold`, `health_check` at line 8 column 64"
            ]
        );
    }

    #[test]
    fn semantic_errors_are_all_reported_with_paths() {
        let bad = r#"{
            "interface": "",
            "services": [
                { "protocol": "tcp", "vip": "10.0.0.100", "port": 0, "scheduler": "fastest",
                  "real_servers": [ { "address": "10.0.0.11", "weight": 4294967295, "forwarding": "tun" } ] },
                { "protocol": "tcp", "vip": "10.0.0.100", "port": 0, "scheduler": "lblc", "mh_table_size": 100,
                  "real_servers": [ { "address": "10.0.0.11", "forwarding": "ipip" },
                                    { "address": "10.0.0.11" } ] }
            ]
        }"#;
        assert_eq!(
            errors(bad),
            vec![
                r#"interface: "" is not an interface name (1 to 15 characters, no '/')"#,
                "services[0].port: port 0 is not allowed (1 to 65535)",
                r#"services[0].scheduler: unknown scheduler "fastest"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf"#,
                "services[0].real_servers[0].weight: 4294967295 is out of range (0 to 2147483647)",
                "director.ipv4: required: services[0].real_servers[0] is tunnelled over IPv4 and needs the director's IPv4 address as outer source",
                "services[1]: duplicate service tcp 10.0.0.100:0: already defined at services[0]",
                "services[1].port: port 0 is not allowed (1 to 65535)",
                r#"services[1].mh_table_size: only the mh scheduler has a table size (scheduler is "lblc")"#,
                r#"services[1].real_servers[0].forwarding: unknown forwarding method "ipip"; valid: tun, dr, nat"#,
                "services[1].real_servers[1]: duplicate real server 10.0.0.11:0: already defined at services[1].real_servers[0]",
            ]
        );
    }

    #[test]
    fn only_tun_crosses_address_families() {
        let mixed = r#"{ "interface": "eth0", "director": { "ipv6": "2001:2::2" },
            "services": [ { "protocol": "tcp", "vip": "198.18.1.1", "port": 80, "scheduler": "mh",
              "real_servers": [ { "address": "2001:2::11", "forwarding": "tun" },
                                { "address": "2001:2::12", "forwarding": "dr" },
                                { "address": "2001:2::13", "forwarding": "nat" },
                                { "address": "198.18.0.14", "forwarding": "tun" } ] } ] }"#;
        assert_eq!(
            errors(mixed),
            vec![
                "services[0].real_servers[1].address: 2001:2::12 is IPv6 but the VIP is IPv4: dr keeps the packet's addresses' family; only tun crosses families",
                "services[0].real_servers[2].address: 2001:2::13 is IPv6 but the VIP is IPv4: nat keeps the packet's addresses' family; only tun crosses families",
                "director.ipv4: required: services[0].real_servers[3] is tunnelled over IPv4 and needs the director's IPv4 address as outer source",
            ]
        );
    }

    #[test]
    fn only_nat_may_change_the_port() {
        for fwd in ["tun", "dr"] {
            let bad = GOOD.replace(
                r#""weight": 3, "forwarding": "nat""#,
                &format!(r#""weight": 3, "forwarding": "{fwd}""#),
            );
            assert_eq!(
                errors(&bad),
                vec![format!(
                    "services[0].real_servers[1].port: 8080 differs from the service's port 80: only nat can change the port ({fwd} forwards the packet unchanged)"
                )]
            );
        }
    }

    #[test]
    fn scheduler_flags_thresholds_and_one_packet_are_checked_with_their_paths() {
        let bad = r#"{ "interface": "eth0", "lblcr_expiration": 0,
            "services": [
              { "protocol": "tcp", "vip": "10.0.0.100", "port": 80, "scheduler": "sh",
                "sched_flags": ["sh-port", "mh-port", "sh-port"], "one_packet": true,
                "real_servers": [ { "address": "10.0.0.11", "upper_threshold": 10, "lower_threshold": 20 },
                                  { "address": "10.0.0.12", "upper_threshold": 3000000000 } ] },
              { "protocol": "udp", "vip": "10.0.0.100", "port": 53, "scheduler": "wlc",
                "sched_flags": ["sh-port"], "one_packet": true, "real_servers": [] },
              { "protocol": "udp", "vip": "10.0.0.100", "port": 54, "scheduler": "fastest",
                "real_servers": [] } ] }"#;
        assert_eq!(
            errors(bad),
            vec![
                "lblcr_expiration: 0 is out of range (1 to 31536000 seconds)",
                r#"services[0].sched_flags[1]: unknown flag "mh-port" for scheduler "sh"; valid: sh-fallback, sh-port"#,
                r#"services[0].sched_flags[2]: duplicate flag "sh-port": already given at services[0].sched_flags[0]"#,
                "services[0].one_packet: one-packet scheduling is for UDP services only",
                "services[0].real_servers[0].lower_threshold: 20 is above the upper threshold 10",
                "services[0].real_servers[1].upper_threshold: 3000000000 is out of range (0 to 2147483647 connections)",
                r#"services[1].sched_flags[0]: scheduler "wlc" takes no flags (got "sh-port"); sh takes sh-fallback, sh-port; mh takes mh-fallback, mh-port"#,
                r#"services[2].scheduler: unknown scheduler "fastest"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf"#,
            ]
        );
        let good = r#"{ "interface": "eth0", "expire_nodest_conn": true, "lblc_expiration": 60,
            "services": [
              { "protocol": "udp", "vip": "10.0.0.100", "port": 53, "scheduler": "mh",
                "sched_flags": ["mh-fallback", "mh-port"], "one_packet": true,
                "real_servers": [ { "address": "10.0.0.11", "upper_threshold": 100 },
                                  { "address": "10.0.0.12", "upper_threshold": 100, "lower_threshold": 50 } ] },
              { "protocol": "tcp", "vip": "10.0.0.100", "port": 80, "scheduler": "lblc", "real_servers": [] },
              { "protocol": "tcp", "vip": "10.0.0.100", "port": 81, "scheduler": "lblcr", "real_servers": [] } ] }"#;
        let c = Config::parse(good, "t").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.expire_nodest_conn);
        assert_eq!((c.lblc_expiration(), c.lblcr_expiration()), (60, 86_400));
    }
}
