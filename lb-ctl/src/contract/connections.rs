//! `lbctl -L -c --json` (connections and persistence templates) and `lbctl -L --timeout
//! --json`, `lbctl -L --daemon --json`.

use std::net::IpAddr;

use lb_model::api::ConnView;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use super::{
    services::protocol,
    types::{endpoint, ip, one_of},
    version::Version,
};

/// `lbctl -L -c --json`: the connection table and the persistence templates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl -L -c --json")]
pub struct Connections {
    pub version: Version,
    pub connections: Vec<Connection>,
}

/// One connection, or one persistence template (`template`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Connection {
    #[schemars(schema_with = "protocol")]
    pub protocol: String,
    /// IPVS's state name ("NONE" for a persistence template).
    #[schemars(schema_with = "conn_state")]
    pub state: String,
    /// Seconds until the entry expires unless more packets come.
    pub expires: u64,
    #[schemars(schema_with = "ip")]
    pub client: IpAddr,
    pub client_port: u16,
    #[schemars(schema_with = "ip")]
    pub vip: IpAddr,
    pub vport: u16,
    #[schemars(schema_with = "ip")]
    pub real: IpAddr,
    pub real_port: u16,
    /// A persistence template (client network -> real server) rather than a connection.
    pub template: bool,
}

/// `lbctl -L --timeout --json`: the idle timeouts in seconds (ipvsadm `--set`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl -L --timeout --json")]
pub struct Timeouts {
    pub version: Version,
    pub tcp: u32,
    pub tcpfin: u32,
    pub udp: u32,
}

/// `lbctl -L --daemon --json` (and `--start-daemon`, `--stop-daemon` with `--json`): the
/// running connection-synchronisation daemons, master first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl -L --daemon --json")]
pub struct Daemons {
    pub version: Version,
    pub daemons: Vec<Daemon>,
}

/// One sync daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Daemon {
    /// "master" (sends this director's connections) or "backup" (applies the others').
    #[schemars(schema_with = "daemon_role")]
    pub state: String,
    pub mcast_interface: String,
    pub syncid: u8,
    /// The largest message's UDP payload, bytes.
    pub sync_maxlen: u16,
    /// The multicast group (null with unicast peers).
    #[schemars(schema_with = "ip_or_null")]
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
    /// Unicast peers ("address:port") messages go to instead of the group.
    #[schemars(schema_with = "endpoints")]
    pub peers: Vec<String>,
    /// Master: messages sent; backup: good messages received.
    pub messages: u64,
    /// Master: records sent; backup: records applied.
    pub records: u64,
    /// Master: sends that failed; backup: datagrams refused and records not applied.
    pub refused: u64,
}

impl Daemons {
    pub fn new(daemons: &[lb_model::api::DaemonView]) -> Self {
        Self {
            version: Version,
            daemons: daemons
                .iter()
                .map(|d| Daemon {
                    state: d.role.name().into(),
                    mcast_interface: d.mcast_interface.clone(),
                    syncid: d.syncid,
                    sync_maxlen: d.sync_maxlen,
                    mcast_group: d.mcast_group,
                    mcast_port: d.mcast_port,
                    mcast_ttl: d.mcast_ttl,
                    peers: d.peers.iter().map(|p| p.to_string()).collect(),
                    messages: d.messages,
                    records: d.records,
                    refused: d.refused,
                })
                .collect(),
        }
    }
}

impl Connections {
    pub fn new(connections: &[ConnView]) -> Self {
        Self {
            version: Version,
            connections: connections
                .iter()
                .map(|c| Connection {
                    protocol: c.protocol.clone(),
                    state: c.state.clone(),
                    expires: c.expires,
                    client: c.client,
                    client_port: c.client_port,
                    vip: c.vip,
                    vport: c.vport,
                    real: c.real,
                    real_port: c.real_port,
                    template: c.template,
                })
                .collect(),
        }
    }
}

fn conn_state(_: &mut SchemaGenerator) -> Schema {
    let mut states = lb_common::TCP_STATE_NAMES.to_vec();
    states.push("UDP");
    one_of(&states, false)
}

fn daemon_role(_: &mut SchemaGenerator) -> Schema {
    one_of(&["master", "backup"], false)
}

fn ip_or_null(g: &mut SchemaGenerator) -> Schema {
    json_schema!({ "anyOf": [ip(g), { "type": "null" }] })
}

fn endpoints(g: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": endpoint(g) })
}
