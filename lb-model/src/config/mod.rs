//! lb's configuration: the JSON lbd reads (`--config`, the state file, `lbctl apply`) and the
//! typed model it becomes.
//!
//! The same structs serve both: a config is generic over its [`Form`]. As read, a
//! [`Config<Raw>`] holds the names the user wrote as text (so that an unknown scheduler is
//! reported with every other mistake, each with its JSON path, instead of stopping the
//! parse); [`Config::parse`] validates it and returns the checked [`Config`], whose names are
//! the typed enums. Both serialise to the same JSON. Validation is split by section:
//! [`daemon`] (interface, table size, timeouts, director), [`service`], [`real`] and
//! [`health`] (health checks and sorry servers).

pub mod address;
pub mod announce;
pub mod daemon;
pub mod diff;
pub mod health;
pub mod mark;
pub mod real;
pub mod schema;
pub mod service;
pub mod sync;

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use self::{
    announce::Announce,
    daemon::{Director, Timeouts, XdpMode},
    health::{CheckConfig, CheckKind, OnDown},
    mark::{Family, MarkConfig, MarkMatch, Prefix},
    real::{RealKey, RealServerConfig},
    service::{ServiceConfig, ServiceKey},
    sync::SyncConfig,
};
use crate::{
    forwarding::{Forwarding, TunCsum, TunType},
    names::UnknownName,
    scheduler::{SchedFlag, Scheduler},
};

/// What the names in a config are: text as written ([`Raw`]) or typed ([`Checked`]).
pub trait Form: Clone + fmt::Debug + PartialEq + Eq + 'static {
    type Scheduler: Name<Scheduler>;
    type SchedFlag: Name<SchedFlag>;
    type Forwarding: Name<Forwarding>;
    type TunType: Name<TunType>;
    type TunCsum: Name<TunCsum>;

    /// ipvsadm's default scheduler, `wlc`.
    fn default_scheduler() -> Self::Scheduler {
        Scheduler::default().into()
    }
    /// ipvsadm's default forwarding method, `dr`.
    fn default_forwarding() -> Self::Forwarding {
        Forwarding::default().into()
    }
}

/// A name in a config of either form: made from the typed value, read as the typed value
/// (or, as written, the text that names nothing).
pub trait Name<T>:
    Clone + fmt::Debug + PartialEq + Eq + Serialize + DeserializeOwned + schemars::JsonSchema + From<T>
{
    /// The typed value, or why the text names none.
    fn typed(&self) -> Result<T, UnknownName>;
}

impl<T> Name<T> for String
where
    T: std::str::FromStr<Err = UnknownName>,
    String: From<T>,
{
    fn typed(&self) -> Result<T, UnknownName> {
        self.parse()
    }
}

macro_rules! typed_name {
    ($t:ty) => {
        impl Name<$t> for $t {
            fn typed(&self) -> Result<$t, UnknownName> {
                Ok(*self)
            }
        }
    };
}
typed_name!(Scheduler);
typed_name!(SchedFlag);
typed_name!(Forwarding);
typed_name!(TunType);
typed_name!(TunCsum);

/// A config as read: names are the text the user wrote, not checked yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raw;
impl Form for Raw {
    type Scheduler = String;
    type SchedFlag = String;
    type Forwarding = String;
    type TunType = String;
    type TunCsum = String;
}

/// A validated config: names are typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked;
impl Form for Checked {
    type Scheduler = Scheduler;
    type SchedFlag = SchedFlag;
    type Forwarding = Forwarding;
    type TunType = TunType;
    type TunCsum = TunCsum;
}

/// Most connections a threshold may name (ipvsadm takes an int).
pub const MAX_THRESHOLD: u32 = i32::MAX as u32;
/// Range of `lblc_expiration` / `lblcr_expiration`, seconds (a year at most).
pub const MAX_EXPIRATION_S: u32 = 31_536_000;
/// Most interfaces `lb` may be attached to at once.
pub const MAX_INTERFACES: usize = 64;
/// The largest `conn_reuse_mode` (IPVS's two bits).
pub const MAX_CONN_REUSE_MODE: u32 = 3;
/// IPVS's weight range.
pub const MAX_WEIGHT: u32 = i32::MAX as u32;
/// Where lbd pins its maps unless `pin_dir` says otherwise.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/lb";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(rename = "Config", bound = "F: Form")]
pub struct Config<F: Form = Checked> {
    /// The interface `lb` is attached to: the one-element shorthand of `interfaces` (give
    /// one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The interfaces `lb` is attached to, one shared set of maps for all: packets may
    /// arrive on any of them and leave on any (the egress is the FIB's choice). Give this or
    /// `interface`. A running lbd attaches to the interfaces a change (`lbctl apply`, a
    /// SIGHUP reload) adds and detaches from those it removes, leaving the others' traffic
    /// alone; an interface that does not exist is refused and nothing changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub xdp_mode: XdpMode,
    /// The director's own addresses: the outer source of tunnelled packets. Without one of
    /// a family, a tunnel's source is that of the kernel's route toward its real server.
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
    /// IPVS's `sloppy_sctp`: an SCTP packet whose first chunk is no INIT, of an association
    /// lb does not hold, is scheduled as a new association by every scheduler (an ABORT
    /// never is). Default false: only the hash schedulers (`sh`, `dh`, `mh`) schedule it; the
    /// others drop it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sloppy_sctp: bool,
    /// IPVS's `conn_reuse_mode`: non-zero, a SYN of a connection in TIME_WAIT or CLOSE ends
    /// it and starts a new connection, scheduled and counted anew (with bit 2, value 2, also
    /// a `dr` / `tun` connection in FIN_WAIT, the last state the director sees of those); 0,
    /// the SYN goes on to the old connection's real server. Default 1 (IPVS's).
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
    pub metrics_listen: Option<SocketAddr>,
    /// Idle timeouts (ipvsadm `--set tcp tcpfin udp`), seconds.
    #[serde(default)]
    pub timeouts: Timeouts,
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
    /// VIP announcement through BIRD 2 (BGP, ECMP): lbd writes the include file of the VIPs
    /// it can serve and has BIRD read it. Absent: lbd announces nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<Announce>,
    /// Connection synchronisation between directors (IPVS's sync daemon). Absent: lbd
    /// neither sends nor applies sync messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncConfig>,
    /// Firewall marks (`mark::MarkConfig`): lb's classifier, which gives new flows the marks
    /// firewall-mark services (`fwmark`) take. Over the whole list, the first match in order
    /// wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<MarkConfig>,
    #[serde(default)]
    pub services: Vec<ServiceConfig<F>>,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// One thing wrong with a config: where (a JSON path, or line and column) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
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

/// Collects a config's errors in the order they are found.
#[derive(Debug, Default)]
pub(crate) struct Errors(pub Vec<ConfigError>);

impl Errors {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }
}

impl Config<Raw> {
    /// Reads a config's JSON text (syntax errors name line and column, type errors the JSON
    /// path), without validating it. The text must be one JSON document: anything but
    /// whitespace after it is an error naming its line and column.
    pub fn read(text: &str) -> Result<Self, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let cfg: Self = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            // A service written as an array of values fails on its first field (`fwmark`, a
            // number) before the shape check below: say what is wrong with it instead.
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
                && let Some(i) = v
                    .get("services")
                    .and_then(|s| s.as_array())
                    .and_then(|s| s.iter().position(serde_json::Value::is_array))
            {
                return ConfigError::new(
                    format!("services[{i}]"),
                    "an array where an object is expected: write the fields by name ({\"field\": value, ...})",
                );
            }
            let path = e.path().to_string();
            let inner = e.into_inner();
            ConfigError {
                // "." is the whole document; "" a field with an empty name at the top.
                path: if path == "." || path.is_empty() {
                    "(document)".into()
                } else {
                    path
                },
                message: inner.to_string(),
            }
        })?;
        de.end().map_err(|e| {
            ConfigError::new(
                "(document)",
                format!("{e} after the end of the config (one JSON object, nothing after it)"),
            )
        })?;
        // serde also reads a struct from an array of its fields' values in their order, and a
        // name from an object of one key (`{"generic": null}`, an enum's tagged form); a config
        // names fields and writes names as strings. Where the text has an array or an object,
        // the config read back must have one too.
        let text: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::new("(document)", e.to_string()))?;
        // `protocol`, `vip` and `port` have defaults only for a firewall-mark service (which
        // has none of its own): a VIP service must name all three.
        if let Some(services) = text.get("services").and_then(|s| s.as_array()) {
            for (i, s) in services.iter().enumerate() {
                let Some(o) = s.as_object() else { continue };
                if o.contains_key("fwmark") {
                    continue;
                }
                for f in ["protocol", "vip", "port"] {
                    if !o.contains_key(f) {
                        return Err(ConfigError::new(
                            format!("services[{i}]"),
                            format!(
                                "missing field `{f}` (a service has protocol, vip and port, or a fwmark)"
                            ),
                        ));
                    }
                }
            }
        }
        let mut cfg = cfg;
        // A firewall-mark service's VIP is its family's unspecified address.
        for s in &mut cfg.services {
            if s.fwmark.is_some() && s.vip.is_unspecified() {
                s.vip = s.family().unspecified();
            }
        }
        let read = serde_json::to_value(&cfg)
            .map_err(|e| ConfigError::new("(document)", e.to_string()))?;
        if let Some((path, message)) = shape_mismatch(&text, &read, String::new()) {
            return Err(ConfigError::new(
                if path.is_empty() {
                    "(document)".into()
                } else {
                    path
                },
                message,
            ));
        }
        Ok(cfg)
    }

    /// Semantic checks; an empty list means the config is usable.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Errors::default();
        daemon::validate(self, &mut errs);
        if let Some(a) = &self.announce {
            announce::validate(a, &mut errs);
        }
        if let Some(s) = &self.sync {
            sync::validate(s, &mut errs);
        }
        mark::validate(&self.marks, &mut errs);
        service::validate_all(self, &mut errs);
        health::validate(self, &mut errs);
        errs.0
    }

    /// The checked config, or every error found.
    pub fn check(&self) -> Result<Config, Vec<ConfigError>> {
        let errors = self.validate();
        if !errors.is_empty() {
            return Err(errors);
        }
        self.typed().map_err(|e| vec![e])
    }

    /// The same config with typed names (an error names the first that names nothing).
    fn typed(&self) -> Result<Config, ConfigError> {
        let services = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| s.typed(&|| format!("services[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(self.with_services(services))
    }
}

impl<F: Form> Config<F> {
    /// This config's settings with other services (of any form).
    pub fn with_services<G: Form>(&self, services: Vec<ServiceConfig<G>>) -> Config<G> {
        Config {
            interface: self.interface.clone(),
            interfaces: self.interfaces.clone(),
            xdp_mode: self.xdp_mode,
            director: self.director.clone(),
            pin_dir: self.pin_dir.clone(),
            conn_table_size: self.conn_table_size,
            conn_table_size_v6: self.conn_table_size_v6,
            sloppy_tcp: self.sloppy_tcp,
            sloppy_sctp: self.sloppy_sctp,
            conn_reuse_mode: self.conn_reuse_mode,
            flood_rate: self.flood_rate,
            metrics_listen: self.metrics_listen,
            timeouts: self.timeouts,
            expire_nodest_conn: self.expire_nodest_conn,
            lblc_expiration: self.lblc_expiration,
            lblcr_expiration: self.lblcr_expiration,
            announce: self.announce.clone(),
            sync: self.sync.clone(),
            marks: self.marks.clone(),
            services,
        }
    }

    /// The interfaces `lb` is attached to, in the config's order (`interface` is the
    /// one-element shorthand of `interfaces`).
    pub fn interfaces(&self) -> Vec<String> {
        let mut v: Vec<String> = self.interface.iter().cloned().collect();
        v.extend(self.interfaces.iter().cloned());
        v
    }

    pub fn pin_dir(&self) -> PathBuf {
        self.pin_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PIN_DIR))
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

    /// The index of the service `key` names.
    pub fn find_service(&self, key: &ServiceKey) -> Option<usize> {
        self.services.iter().position(|s| s.key() == *key)
    }
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            source_name: name.clone(),
            errors: vec![ConfigError::new("(file)", format!("cannot read: {e}"))],
        })?;
        Config::parse(&text, &name)
    }

    /// Parses and validates config text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            source_name: source_name.into(),
            errors,
        };
        Config::read(text)
            .map_err(|e| fail(vec![e]))?
            .check()
            .map_err(fail)
    }

    /// The same config with its names as text (to be edited, then checked again).
    pub fn raw(&self) -> Config<Raw> {
        self.with_services(self.services.iter().map(ServiceConfig::raw).collect())
    }

    /// Every real server's and sorry server's address (whose neighbour entries the data
    /// plane needs), sorted, once each.
    pub fn real_addrs(&self) -> Vec<std::net::IpAddr> {
        let mut v: Vec<std::net::IpAddr> = self
            .services
            .iter()
            .flat_map(|s| s.real_servers.iter().chain(s.sorry_server.as_ref()))
            .map(|r| r.address)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether some real server uses `nat`.
    pub fn has_nat(&self) -> bool {
        self.services
            .iter()
            .flat_map(|s| &s.real_servers)
            .any(|r| r.forwarding == Forwarding::Nat)
    }

    /// The classifier's rules, in the order they are tried.
    pub fn mark_rules(&self) -> Vec<mark::Rule> {
        mark::rules(&self.marks)
    }

    /// Whether a packet can reach a firewall-mark service: some mark has a match and some
    /// service is a firewall-mark service.
    pub fn classifies(&self) -> bool {
        !self.marks.is_empty() && self.services.iter().any(|s| s.fwmark.is_some())
    }

    /// Whether the config has an IPv6 VIP or real server.
    pub fn has_ipv6(&self) -> bool {
        self.services
            .iter()
            .any(|s| s.vip.is_ipv6() || s.real_servers.iter().any(|r| r.address.is_ipv6()))
    }
}

/// The path of the first array in `text` (the config as written) where `read` (the config
/// as read, serialised again) has an object, or of an object where it has a string, with
/// what is wrong; paths in the form serde_path_to_error writes them.
fn shape_mismatch(
    text: &serde_json::Value,
    read: &serde_json::Value,
    path: String,
) -> Option<(String, &'static str)> {
    use serde_json::Value;
    match (text, read) {
        (Value::Array(_), Value::Object(_)) => Some((
            path,
            "an array where an object is expected: write the fields by name ({\"field\": value, ...})",
        )),
        (Value::Object(_), Value::String(_)) => Some((
            path,
            "an object where a name is expected: write the name as a string (\"name\")",
        )),
        (Value::Object(t), Value::Object(r)) => t.iter().find_map(|(k, v)| {
            let sub = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            r.get(k).and_then(|rv| shape_mismatch(v, rv, sub))
        }),
        (Value::Array(t), Value::Array(r)) => t
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (tv, rv))| shape_mismatch(tv, rv, format!("{path}[{i}]"))),
        _ => None,
    }
}

/// A name of the checked form from a raw one, or the error for `path`.
pub(crate) fn typed<T, N: Name<T>>(n: &N, path: impl FnOnce() -> String) -> Result<T, ConfigError> {
    n.typed()
        .map_err(|e| ConfigError::new(path(), e.to_string()))
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
    fn trailing_data_after_the_document_is_refused_with_line_and_column() {
        for (tail, at) in [
            ("x", "line 11 column 6"),
            ("}", "line 11 column 6"),
            ("\n\n  {}", "line 13 column 3"),
            (" 0", "line 11 column 7"),
        ] {
            let e = errors(&format!("{GOOD}{tail}"));
            assert_eq!(
                e,
                vec![format!(
                    "(document): trailing characters at {at} after the end of the config (one JSON object, nothing after it)"
                )],
                "{tail:?}"
            );
        }
        // Whitespace after it is no data.
        Config::parse(&format!("{GOOD} \n\t\r\n"), "t.json").expect("valid");
    }

    #[test]
    fn addresses_that_are_not_unicast_or_the_vip_itself_are_refused() {
        let bad = GOOD
            .replace("\"10.0.0.100\"", "\"224.0.0.1\"")
            .replace("\"10.0.0.11\"", "\"127.0.0.1\"")
            .replace("\"10.0.0.2\"", "\"0.0.0.0\"");
        assert_eq!(
            errors(&bad),
            vec![
                "director.ipv4: 0.0.0.0 is the unspecified address",
                "services[0].vip: 224.0.0.1 is a multicast address: lb balances unicast traffic",
                "services[0].real_servers[0].address: 127.0.0.1 is a loopback address: packets to it never leave a host",
            ]
        );
        let bad = GOOD.replace("\"10.0.0.12\"", "\"10.0.0.100\"");
        assert_eq!(
            errors(&bad),
            vec![
                "services[0].real_servers[1].address: 10.0.0.100 is the service's VIP: the director would send the service's packets to itself"
            ]
        );
    }

    #[test]
    fn real_servers_are_limited_in_all_services_together() {
        let reals = |n: usize, net: u8| -> String {
            (0..n)
                .map(|i| format!(r#"{{ "address": "10.{net}.{}.{}" }}"#, i / 256, i % 256))
                .collect::<Vec<_>>()
                .join(",")
        };
        let two = |a: usize, b: usize, sorry: bool| {
            format!(
                r#"{{ "interface": "eth0", "services": [
                  {{ "protocol": "tcp", "vip": "10.0.0.1", "port": 80, "scheduler": "rr",
                     "real_servers": [{}] }},
                  {{ "protocol": "tcp", "vip": "10.0.0.1", "port": 81, "scheduler": "rr",
                     {} "real_servers": [{}] }} ] }}"#,
                reals(a, 1),
                if sorry {
                    r#""sorry_server": { "address": "10.9.0.1" },"#
                } else {
                    ""
                },
                reals(b, 2)
            )
        };
        let max = lb_common::MAX_REALS as usize - 1;
        Config::parse(&two(max - 65_535, 65_535, false), "t").expect("at the limit");
        assert_eq!(
            errors(&two(max - 65_535, 65_535, true)),
            vec![format!(
                "services: {} real servers and sorry servers in all; at most {max} are supported",
                max + 1
            )]
        );
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
    fn an_array_of_field_values_is_no_object_and_an_object_no_name() {
        // serde would read these as the structs' fields in order.
        for (text, path) in [
            (r#"["eth0"]"#, "(document)"),
            (
                r#"{ "interface": "eth0", "director": ["10.0.0.2"] }"#,
                "director",
            ),
            (r#"{ "interface": "eth0", "timeouts": [900] }"#, "timeouts"),
            (
                r#"{ "interface": "eth0", "services": [ ["tcp", "10.0.0.1", 80] ] }"#,
                "services[0]",
            ),
            (
                r#"{ "interface": "eth0", "services": [ { "protocol": "tcp", "vip": "10.0.0.1",
                    "port": 80, "real_servers": [ { "address": "10.0.0.11" }, ["10.0.0.12"] ] } ] }"#,
                "services[0].real_servers[1]",
            ),
            (
                r#"{ "interface": "eth0", "services": [ { "protocol": "tcp", "vip": "10.0.0.1",
                    "port": 80, "health_check": ["tcp"] } ] }"#,
                "services[0].health_check",
            ),
        ] {
            assert_eq!(
                errors(text),
                vec![format!(
                    "{path}: an array where an object is expected: write the fields by name ({{\"field\": value, ...}})"
                )],
                "{text}"
            );
        }
        // A name in serde's tagged form.
        for (text, path) in [
            (
                r#"{ "interface": "eth0", "xdp_mode": { "generic": null } }"#,
                "xdp_mode",
            ),
            (
                r#"{ "interface": "eth0", "services": [ { "protocol": { "tcp": null },
                    "vip": "10.0.0.1", "port": 80 } ] }"#,
                "services[0].protocol",
            ),
            (
                r#"{ "interface": "eth0", "services": [ { "protocol": "tcp", "vip": "10.0.0.1",
                    "port": 80, "health_check": { "type": "tcp", "on_down": { "expire": null } } } ] }"#,
                "services[0].health_check.on_down",
            ),
        ] {
            assert_eq!(
                errors(text),
                vec![format!(
                    "{path}: an object where a name is expected: write the name as a string (\"name\")"
                )],
                "{text}"
            );
        }
        // Arrays where the config has them.
        Config::parse(
            r#"{ "interface": "eth0", "services": [ { "protocol": "tcp", "vip": "10.0.0.1",
                "port": 80, "scheduler": "sh", "sched_flags": ["sh-port"], "real_servers": [],
                "health_check": { "type": "exec", "command": ["/bin/true"] } } ] }"#,
            "t",
        )
        .unwrap();
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
                r#"interface: "" is not an interface name (1 to 15 characters, no '/' or space)"#,
                "services[0].port: Zero port specified for non-persistent service: a port-0 service (every port of its VIP) must be persistent (set persistent)",
                r#"services[0].scheduler: unknown scheduler "fastest"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos"#,
                "services[0].real_servers[0].weight: 4294967295 is out of range (0 to 2147483647)",
                "services[1]: duplicate service tcp 10.0.0.100:0: already defined at services[0]",
                "services[1].port: Zero port specified for non-persistent service: a port-0 service (every port of its VIP) must be persistent (set persistent)",
                r#"services[1].mh_table_size: only the mh scheduler has a table size (scheduler is "lblc")"#,
                r#"services[1].real_servers[0].forwarding: unknown forwarding method "ipip"; valid: tun, dr, nat"#,
                "services[1].real_servers[1]: duplicate real server 10.0.0.11:0: already defined at services[1].real_servers[0]",
            ]
        );
    }

    #[test]
    fn a_fwmark_config_reads_and_its_errors_are_reported_with_paths() {
        let good = r#"{
            "interface": "eth0",
            "marks": [ { "mark": 1, "match": [
                { "destination": "10.0.0.1/32", "protocol": "tcp", "ports": "80,443" },
                { "destination": "10.0.1.0/24", "protocol": "udp", "ports": "8000-8100", "source": "192.0.2.0/24" } ] } ],
            "services": [
                { "fwmark": 1, "scheduler": "rr", "persistent": 300,
                  "real_servers": [ { "address": "10.0.0.11", "forwarding": "dr" } ] },
                { "fwmark": 1, "family": "ipv6",
                  "real_servers": [ { "address": "2001:db8::11", "forwarding": "tun" } ] }
            ]
        }"#;
        let c = Config::parse(good, "t.json").expect("valid");
        assert_eq!(c.services[0].key().to_string(), "fwmark 1");
        assert_eq!(c.services[1].key().to_string(), "fwmark 1 ipv6");
        assert_eq!(c.marks[0].matches.len(), 2);
        let bad = r#"{
            "interface": "eth0",
            "marks": [ { "mark": 0, "match": [] },
                       { "mark": 2, "match": [
                { "destination": "10.0.0.1/24" },
                { "destination": "10.0.0.1", "ports": "80" },
                { "destination": "10.0.0.1", "protocol": "tcp", "ports": "90-80" },
                { "destination": "10.0.0.1", "source": "2001:db8::/32" } ] },
                       { "mark": 2, "match": [ { "destination": "10.0.0.2" } ] } ],
            "services": [
                { "fwmark": 2, "vip": "10.0.0.1",
                  "real_servers": [ { "address": "10.0.0.11", "forwarding": "nat" } ] }
            ]
        }"#;
        assert_eq!(
            errors(bad),
            vec![
                "marks[0].mark: mark 0 is no mark (1 to 4294967295)",
                "marks[0].match: a mark needs at least one match (destination, protocol, ports, source)",
                r#"marks[1].match[0].destination: "10.0.0.1/24" has bits set past its prefix length: write 10.0.0.0/24"#,
                "marks[1].match[1].ports: ports need a protocol (tcp, udp or sctp), as iptables's --dport needs -p",
                r#"marks[1].match[2].ports: "90-80" in "90-80": the range ends before it starts"#,
                "marks[1].match[3].source: 2001:db8::/32 is ipv6 but the destination 10.0.0.1/32 is ipv4",
                "marks[2].mark: duplicate mark 2: already defined at marks[1] (give it one list of matches)",
                "services[0].vip: a firewall-mark service has no VIP: the destinations of its mark's matches are its addresses (leave vip out)",
            ]
        );
    }

    #[test]
    fn interfaces_is_a_list_and_interface_its_one_element_shorthand() {
        let two = GOOD.replace(
            r#""interface": "eth0""#,
            r#""interfaces": ["eth0", "eth1"]"#,
        );
        let c = Config::parse(&two, "t.json").expect("valid");
        assert_eq!(c.interfaces(), vec!["eth0", "eth1"]);
        assert_eq!(
            Config::parse(GOOD, "t.json").unwrap().interfaces(),
            vec!["eth0"]
        );
        // Written back as it was given.
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["interfaces"], serde_json::json!(["eth0", "eth1"]));
        assert_eq!(v.get("interface"), None);
        let both = GOOD.replace(
            r#""interface": "eth0""#,
            r#""interface": "eth0", "interfaces": ["eth1"]"#,
        );
        assert_eq!(
            errors(&both),
            vec![
                r#"interfaces: both "interface" and "interfaces" are given: give one ("interface": "eth0" is the shorthand of "interfaces": ["eth0"])"#
            ]
        );
        let none = GOOD.replace(r#""interface": "eth0","#, "");
        assert_eq!(
            errors(&none),
            vec![
                r#"interfaces: required: the interfaces lb is attached to (or "interface" for one)"#
            ]
        );
        let bad = GOOD.replace(
            r#""interface": "eth0""#,
            r#""interfaces": ["eth0", "eth1", "eth0", "a/b", "eth0"]"#,
        );
        assert_eq!(
            errors(&bad),
            vec![
                r#"interfaces[2]: duplicate interface "eth0": already at interfaces[0]"#,
                r#"interfaces[3]: "a/b" is not an interface name (1 to 15 characters, no '/' or space)"#,
                r#"interfaces[4]: duplicate interface "eth0": already at interfaces[0]"#,
            ]
        );
        let empty = GOOD.replace(r#""interface": "eth0""#, r#""interfaces": []"#);
        assert_eq!(
            errors(&empty),
            vec![
                r#"interfaces: required: the interfaces lb is attached to (or "interface" for one)"#
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
        // (A tun real server needs no director address: without one the outer source is
        // the route's.)
        assert_eq!(
            errors(mixed),
            vec![
                "services[0].real_servers[1].address: 2001:2::12 is IPv6 but the VIP is IPv4: dr keeps the packet's addresses' family; only tun crosses families",
                "services[0].real_servers[2].address: 2001:2::13 is IPv6 but the VIP is IPv4: nat keeps the packet's addresses' family; only tun crosses families",
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
                r#"services[2].scheduler: unknown scheduler "fastest"; valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos"#,
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
