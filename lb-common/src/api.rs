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
    Error {
        message: String,
    },
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
}
