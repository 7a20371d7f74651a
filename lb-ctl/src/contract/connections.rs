//! `lbctl -L -c --json` (connections and persistence templates) and `lbctl -L --timeout
//! --json`, `lbctl -L --daemon --json`.

use std::net::IpAddr;

use lb_model::api::ConnView;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use super::{
    services::protocol,
    types::{ip, one_of},
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

/// `lbctl -L --daemon --json`: connection-synchronisation daemons. lb runs none, so the list
/// is always empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl -L --daemon --json")]
pub struct Daemons {
    pub version: Version,
    #[schemars(schema_with = "no_daemons")]
    pub daemons: Vec<()>,
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
    one_of(
        &["SYN_RECV", "ESTABLISHED", "FIN_WAIT", "UDP", "NONE"],
        false,
    )
}

fn no_daemons(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "maxItems": 0 })
}
