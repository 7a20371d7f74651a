//! `lbctl -L --json` (and `-L -t|-u SERVICE --json`, that service alone): the virtual
//! services with their real servers, counters, rates and health; and one real server, the
//! answer to `lbctl drain` and `lbctl undrain`.

use std::net::IpAddr;

use lb_model::api::{
    CheckView, DrainView, RateView, RealHealthView, RealServerView, ServiceHealthView, ServiceView,
    StatsView,
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use super::{
    types::{ip, one_of},
    version::Version,
};
use crate::words::{self, FORWARDING, PROTOCOLS, SCHED_FLAGS, SCHEDULERS, TUN_CSUM, TUN_TYPES};

/// `lbctl -L --json`: every virtual service (or the one `-t`/`-u` names).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl -L --json")]
pub struct Services {
    pub version: Version,
    /// Capacity of the connection table (ipvsadm's `size=`).
    pub conn_table_size: u32,
    /// The virtual services, in lbd's order.
    pub services: Vec<Service>,
}

/// A virtual service.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Service {
    #[schemars(schema_with = "protocol")]
    pub protocol: String,
    #[schemars(schema_with = "ip")]
    pub vip: IpAddr,
    pub port: u16,
    /// The scheduler, by ipvsadm name.
    #[schemars(schema_with = "scheduler")]
    pub scheduler: String,
    /// Scheduler flags (ipvsadm `-b`).
    #[schemars(schema_with = "sched_flags")]
    pub sched_flags: Vec<String>,
    /// Persistence timeout in seconds (ipvsadm `-p`); null when not persistent.
    pub persistent: Option<u32>,
    /// Persistence granularity as a prefix length (ipvsadm `-M`); null for one address.
    pub persistent_netmask: Option<u8>,
    /// One-packet scheduling (ipvsadm `-o`).
    pub one_packet: bool,
    /// Maglev table size when not the default; null otherwise.
    pub mh_table_size: Option<u32>,
    pub stats: Stats,
    pub rate: Rate,
    /// Whether the service can take new connections; null when lbd does not say.
    pub health: Option<ServiceHealth>,
    pub real_servers: Vec<RealServer>,
}

/// A real server of a service.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RealServer {
    #[schemars(schema_with = "ip")]
    pub address: IpAddr,
    pub port: u16,
    /// The forwarding method: "tun" (ipvsadm `-i`), "dr" (`-g`) or "nat" (`-m`).
    #[schemars(schema_with = "forwarding")]
    pub forwarding: String,
    /// The configured weight (see `health.effective_weight` for the one scheduling uses).
    pub weight: u32,
    pub active_conns: u64,
    pub inactive_conns: u64,
    /// Persistence templates naming this real server (ipvsadm's PersistConn).
    pub persist_conns: u64,
    /// Connection thresholds (ipvsadm `-x`, `-y`); 0 when unset.
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    /// A `tun` real server's encapsulation; null otherwise.
    #[schemars(schema_with = "tun_type")]
    pub tun_type: Option<String>,
    /// GUE's destination port; null otherwise.
    pub tun_port: Option<u16>,
    /// GUE's or GRE's checksum mode; null otherwise.
    #[schemars(schema_with = "tun_csum")]
    pub tun_csum: Option<String>,
    pub stats: Stats,
    pub rate: Rate,
    /// Health check, drain and sorry-server state; null when lbd does not say.
    pub health: Option<RealHealth>,
}

/// Counters since the service or real server was added (or zeroed), ipvsadm `--stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Stats {
    pub conns: u64,
    pub in_pkts: u64,
    pub out_pkts: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

/// Rates per second as lbd's estimator measures them (IPVS's: 2-second samples, smoothed),
/// ipvsadm `--rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Rate {
    /// Connections per second.
    pub cps: u64,
    /// Packets per second in (client to real server) and out.
    pub in_pps: u64,
    pub out_pps: u64,
    /// Bytes per second in and out.
    pub in_bps: u64,
    pub out_bps: u64,
}

/// A service's availability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceHealth {
    /// False when no real server can take new connections (each down, draining or of weight 0).
    pub up: bool,
    /// The sorry server is taking the service's new connections.
    pub sorry_server_active: bool,
    /// What a down service does with new connections.
    #[schemars(schema_with = "fallback")]
    pub fallback: String,
}

/// A real server's availability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RealHealth {
    /// "up", "down" (taken out by its health check) or "unchecked".
    #[schemars(schema_with = "health_state")]
    pub state: String,
    /// The weight the scheduler uses: 0 while down or draining.
    pub effective_weight: u32,
    /// This is the service's sorry server (in the service while it is down).
    pub sorry_server: bool,
    /// The health check; null when unchecked.
    pub check: Option<Check>,
    /// The drain; null when not draining.
    pub draining: Option<Drain>,
}

/// A real server's health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Check {
    /// The kind of check.
    #[schemars(schema_with = "check_kind")]
    pub kind: String,
    /// The address and port checked.
    pub target: String,
    /// Successes in a row (0 after a failure) and failures in a row (0 after a success).
    pub successes: u32,
    pub failures: u32,
    /// Checks that passed and failed since lbd started checking.
    pub checks_ok: u64,
    pub checks_failed: u64,
    /// How long the last check took, microseconds; null before the first.
    pub last_duration_us: Option<u64>,
    /// Why the last check failed; null after a success.
    pub last_error: Option<String>,
    /// Seconds since the state last changed (or the check started).
    pub since_secs: u64,
}

/// A draining real server (`lbctl drain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Drain {
    /// Seconds until its remaining connections are removed (0 once the deadline passed).
    pub remaining_secs: u64,
    /// The deadline passed and its connections were removed; it stays out of scheduling
    /// until `lbctl undrain`.
    pub expired: bool,
    /// Its connections still in the table.
    pub connections: u64,
}

/// `lbctl drain --json` and `lbctl undrain --json`: the real server as it is now.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(
    deny_unknown_fields,
    title = "lbctl drain --json, lbctl undrain --json"
)]
pub struct RealServerOutput {
    pub version: Version,
    /// The service it belongs to.
    #[schemars(schema_with = "protocol")]
    pub protocol: String,
    #[schemars(schema_with = "ip")]
    pub vip: IpAddr,
    pub port: u16,
    pub real: RealServer,
}

impl Services {
    pub fn new(conn_table_size: u32, services: &[ServiceView]) -> Self {
        Self {
            version: Version,
            conn_table_size,
            services: services.iter().map(Service::from).collect(),
        }
    }
}

impl From<&ServiceView> for Service {
    fn from(s: &ServiceView) -> Self {
        Self {
            protocol: s.protocol.clone(),
            vip: s.vip,
            port: s.port,
            scheduler: s.scheduler.clone(),
            sched_flags: s.sched_flags.clone(),
            persistent: s.persistent,
            persistent_netmask: s.persistent_netmask,
            one_packet: s.one_packet,
            mh_table_size: s.mh_table_size,
            stats: s.stats.into(),
            rate: s.rate.into(),
            health: s.health.as_ref().map(ServiceHealth::from),
            real_servers: s.real_servers.iter().map(RealServer::from).collect(),
        }
    }
}

impl From<&RealServerView> for RealServer {
    fn from(r: &RealServerView) -> Self {
        Self {
            address: r.address,
            port: r.port,
            forwarding: r.forwarding.clone(),
            weight: r.weight,
            active_conns: r.active_conns,
            inactive_conns: r.inactive_conns,
            persist_conns: r.persist_conns,
            upper_threshold: r.upper_threshold,
            lower_threshold: r.lower_threshold,
            tun_type: r.tun_type.clone(),
            tun_port: r.tun_port,
            tun_csum: r.tun_csum.clone(),
            stats: r.stats.into(),
            rate: r.rate.into(),
            health: r.health.as_ref().map(RealHealth::from),
        }
    }
}

impl From<StatsView> for Stats {
    fn from(s: StatsView) -> Self {
        Self {
            conns: s.conns,
            in_pkts: s.in_pkts,
            out_pkts: s.out_pkts,
            in_bytes: s.in_bytes,
            out_bytes: s.out_bytes,
        }
    }
}

impl From<RateView> for Rate {
    fn from(r: RateView) -> Self {
        Self {
            cps: r.cps,
            in_pps: r.in_pps,
            out_pps: r.out_pps,
            in_bps: r.in_bps,
            out_bps: r.out_bps,
        }
    }
}

impl From<&ServiceHealthView> for ServiceHealth {
    fn from(h: &ServiceHealthView) -> Self {
        Self {
            up: h.up,
            sorry_server_active: h.sorry_server_active,
            fallback: h.fallback.clone(),
        }
    }
}

impl From<&RealHealthView> for RealHealth {
    fn from(h: &RealHealthView) -> Self {
        Self {
            state: h.state.clone(),
            effective_weight: h.effective_weight,
            sorry_server: h.sorry_server,
            check: h.check.as_ref().map(Check::from),
            draining: h.draining.map(Drain::from),
        }
    }
}

impl From<&CheckView> for Check {
    fn from(c: &CheckView) -> Self {
        Self {
            kind: c.kind.clone(),
            target: c.target.clone(),
            successes: c.successes,
            failures: c.failures,
            checks_ok: c.checks_ok,
            checks_failed: c.checks_failed,
            last_duration_us: c.last_duration_us,
            last_error: c.last_error.clone(),
            since_secs: c.since_secs,
        }
    }
}

impl From<DrainView> for Drain {
    fn from(d: DrainView) -> Self {
        Self {
            remaining_secs: d.remaining_secs,
            expired: d.expired,
            connections: d.connections,
        }
    }
}

pub(super) fn protocol(_: &mut SchemaGenerator) -> Schema {
    one_of(PROTOCOLS, false)
}

fn scheduler(_: &mut SchemaGenerator) -> Schema {
    one_of(&words::names(SCHEDULERS), false)
}

fn sched_flags(_: &mut SchemaGenerator) -> Schema {
    let mut s = schemars::json_schema!({ "type": "array", "uniqueItems": true });
    s.insert(
        "items".into(),
        one_of(&words::names(SCHED_FLAGS), false).into(),
    );
    s
}

fn forwarding(_: &mut SchemaGenerator) -> Schema {
    one_of(&words::names(FORWARDING), false)
}

fn tun_type(_: &mut SchemaGenerator) -> Schema {
    one_of(&words::names(TUN_TYPES), true)
}

fn tun_csum(_: &mut SchemaGenerator) -> Schema {
    one_of(TUN_CSUM, true)
}

fn fallback(_: &mut SchemaGenerator) -> Schema {
    one_of(&["drop", "sorry_server"], false)
}

fn health_state(_: &mut SchemaGenerator) -> Schema {
    one_of(&["up", "down", "unchecked"], false)
}

fn check_kind(_: &mut SchemaGenerator) -> Schema {
    one_of(&["tcp", "http", "udp", "exec"], false)
}
