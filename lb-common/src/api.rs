//! The control protocol between `lbctl` (or any client) and `lbd`: one JSON request per line
//! on the Unix socket, answered by one JSON response line. Versioned by [`API_VERSION`]; a
//! daemon answers a request of another version with an error naming both versions.

use std::{net::IpAddr, string::String, vec::Vec};

use serde::{Deserialize, Serialize};

pub const API_VERSION: u32 = 1;

/// Default path of lbd's control socket (lbd `--socket`, lbctl `--socket`).
pub const DEFAULT_SOCKET: &str = "/run/lb/lbd.sock";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    #[serde(flatten)]
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Every virtual service with its real servers and counters.
    List,
    /// Daemon-wide state: interface, attach mode, reason counters, connection-table size.
    Status,
    /// Drains a real server: no new connections from now on, and the ones it still has are
    /// removed `deadline_secs` from now. Answered with [`Response::RealServer`].
    Drain {
        /// "tcp" or "udp".
        protocol: String,
        vip: IpAddr,
        port: u16,
        address: IpAddr,
        real_port: u16,
        deadline_secs: u64,
    },
    /// Streams the data plane's decisions for matching packets (`lbctl trace`): answered with
    /// [`Response::TraceStarted`], then one [`Response::Trace`] line per event until the client
    /// closes the connection. Unset filters match everything.
    Trace {
        /// Packets to this VIP (and `nat` replies from it).
        #[serde(default)]
        vip: Option<IpAddr>,
        /// Packets from (or to) this client address.
        #[serde(default)]
        client: Option<IpAddr>,
        /// Packets forwarded to this real-server address.
        #[serde(default)]
        real: Option<IpAddr>,
        /// At most this many events per second and CPU (default 1000; 0: no limit).
        #[serde(default)]
        max_per_sec: Option<u32>,
    },
    /// Ends a drain: the real server takes new connections again. Answered with
    /// [`Response::RealServer`].
    Undrain {
        protocol: String,
        vip: IpAddr,
        port: u16,
        address: IpAddr,
        real_port: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Services {
        /// Capacity of the connection table (ipvsadm's banner prints it as `size=`).
        conn_table_size: u32,
        services: Vec<ServiceView>,
    },
    Status(StatusView),
    /// One real server of one service, as listed (the answer to drain and undrain).
    RealServer {
        protocol: String,
        vip: IpAddr,
        port: u16,
        real: RealServerView,
    },
    /// A trace is running (see [`Op::Trace`]); events follow.
    TraceStarted,
    /// One decision of the data plane.
    Trace(TraceView),
    Error {
        message: String,
    },
}

/// One packet's fate, as `lbctl trace` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceView {
    /// Wall-clock time, RFC 3339 with microseconds (UTC).
    pub time: String,
    /// "tx", "redirect", "pass", "drop" or "aborted".
    pub verdict: String,
    /// The reason counted for it (`lb_common::REASON_NAMES`).
    pub reason: String,
    /// "tcp", "udp", "icmp", "icmpv6"; absent when the packet was not parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Source address and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Destination address and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The real server it went to ("address:port").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real: Option<String>,
}

/// ipvsadm's `--stats` columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsView {
    pub conns: u64,
    pub in_pkts: u64,
    pub out_pkts: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

impl From<crate::Stats> for StatsView {
    fn from(s: crate::Stats) -> Self {
        Self {
            conns: s.conns,
            in_pkts: s.in_pkts,
            out_pkts: s.out_pkts,
            in_bytes: s.in_bytes,
            out_bytes: s.out_bytes,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// "tcp" or "udp".
    pub protocol: String,
    pub vip: IpAddr,
    pub port: u16,
    /// ipvsadm scheduler name ("mh", "wlc", ...).
    pub scheduler: String,
    /// Scheduler flags as ipvsadm prints them (e.g. "mh-port").
    #[serde(default)]
    pub sched_flags: Vec<String>,
    /// Persistence timeout in seconds, when the service is persistent.
    #[serde(default)]
    pub persistent: Option<u32>,
    pub stats: StatsView,
    pub real_servers: Vec<RealServerView>,
    /// Whether the service can take new connections (lbd with health checks and drains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ServiceHealthView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealServerView {
    pub address: IpAddr,
    pub port: u16,
    /// "tun", "dr" or "nat".
    pub forwarding: String,
    pub weight: u32,
    pub active_conns: u64,
    pub inactive_conns: u64,
    pub stats: StatsView,
    /// Health check, drain and sorry-server state (lbd with health checks and drains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<RealHealthView>,
}

/// A service's availability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHealthView {
    /// False when no real server can take new connections (each is down, draining or of
    /// weight 0).
    pub up: bool,
    /// The sorry server is in the service (taking its new connections) because it is down.
    #[serde(default)]
    pub sorry_server_active: bool,
    /// What a down service does with new connections: "drop" or "sorry_server".
    pub fallback: String,
}

/// A real server's availability. `RealServerView::weight` is the configured weight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealHealthView {
    /// "up", "down" (taken out by its health check) or "unchecked".
    pub state: String,
    /// The weight the scheduler uses: 0 while down or draining.
    pub effective_weight: u32,
    /// This is the service's sorry server, in use while the service is down.
    #[serde(default)]
    pub sorry_server: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining: Option<DrainView>,
}

/// A real server's health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    /// "tcp", "http", "udp" or "exec".
    pub kind: String,
    /// The address and port checked.
    pub target: String,
    /// Successes in a row (0 after a failure).
    pub successes: u32,
    /// Failures in a row (0 after a success).
    pub failures: u32,
    pub checks_ok: u64,
    pub checks_failed: u64,
    /// How long the last check took, microseconds.
    #[serde(default)]
    pub last_duration_us: Option<u64>,
    /// Why the last check failed (none after a success).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Seconds since the state last changed (or the check started).
    pub since_secs: u64,
}

/// A draining real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainView {
    /// Seconds until its remaining connections are removed (0 once the deadline passed).
    pub remaining_secs: u64,
    /// The deadline passed and its connections were removed; it stays out of scheduling
    /// until undrained.
    pub expired: bool,
    /// Its connections still in the table (active and inactive).
    pub connections: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub version: String,
    pub interface: String,
    /// "native" or "generic".
    pub xdp_mode: String,
    pub services: usize,
    pub real_servers: usize,
    /// Entries in the connection table now.
    pub connections: u64,
    /// Capacity of the connection table.
    pub connection_capacity: u32,
    /// Every reason counter by name (`lb_common::REASON_NAMES`), summed over CPUs.
    pub reasons: Vec<(String, u64)>,
    /// Services with no real server able to take new connections.
    #[serde(default)]
    pub services_down: usize,
}
