//! `lbctl status --json`: lbd's daemon-wide state, with every reason counter by name.

use lb_common::REASON_NAMES;
use lb_model::api::StatusView;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer, ser::SerializeMap};

use super::{types::one_of, version::Version};

/// `lbctl status --json`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl status --json")]
pub struct Status {
    pub version: Version,
    /// lbd's own version.
    pub lbd_version: String,
    /// The first interface `lb` is attached to.
    pub interface: String,
    /// Every interface `lb` is attached to, in the config's order.
    pub interfaces: Vec<String>,
    /// Those interfaces as the kernel reports them now, in the same order (empty from an lbd
    /// that does not report them).
    pub links: Vec<Link>,
    /// The XDP attach mode.
    #[schemars(schema_with = "xdp_mode")]
    pub xdp_mode: String,
    pub services: usize,
    /// Services with no real server able to take new connections.
    pub services_down: usize,
    pub real_servers: usize,
    /// Entries in the connection table now, and its capacity.
    pub connections: u64,
    pub connection_capacity: u32,
    /// Every reason counter (verdicts, passes, drops; the names of `lbctl trace` and of the
    /// `lb_packets_total{reason}` metric), summed over CPUs.
    pub reasons: Reasons,
}

/// An interface `lb` is attached to, as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Link {
    pub name: String,
    /// The kernel's interface index; 0 when it does not know the interface (any more).
    pub index: u32,
    /// Administratively up with its carrier.
    pub up: bool,
    pub mtu: u32,
    /// The XDP attach mode of the program attached now.
    #[schemars(schema_with = "link_xdp_mode")]
    pub xdp_mode: String,
    /// The attached XDP program's id (0: none): one program for every interface of one lbd.
    pub program_id: u32,
    /// What `lb` did with the packets that arrived on the interface since lbd started (the
    /// data plane's per-CPU counters, summed).
    pub counters: lb_model::api::InterfaceCounters,
}

impl From<&lb_model::api::LinkView> for Link {
    fn from(l: &lb_model::api::LinkView) -> Self {
        Self {
            name: l.name.clone(),
            index: l.index,
            up: l.up,
            mtu: l.mtu,
            xdp_mode: l.xdp_mode.clone(),
            program_id: l.program_id,
            counters: l.counters,
        }
    }
}

fn link_xdp_mode(_: &mut SchemaGenerator) -> Schema {
    one_of(&["native", "generic", "offload", "multi", "none"], false)
}

/// Counters keyed by name, in lbd's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reasons(pub Vec<(String, u64)>);

impl Serialize for Reasons {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (name, count) in &self.0 {
            m.serialize_entry(name, count)?;
        }
        m.end()
    }
}

impl JsonSchema for Reasons {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Reasons".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let count = json_schema!({ "type": "integer", "minimum": 0 });
        let properties: serde_json::Map<String, serde_json::Value> = REASON_NAMES
            .iter()
            .map(|n| ((*n).to_string(), count.clone().into()))
            .collect();
        json_schema!({
            "description": "Every reason counter by name.",
            "type": "object",
            "properties": properties,
            "required": REASON_NAMES.to_vec(),
            "additionalProperties": false,
        })
    }
}

impl From<&StatusView> for Status {
    fn from(s: &StatusView) -> Self {
        Self {
            version: Version,
            lbd_version: s.version.clone(),
            interface: s.interface.clone(),
            interfaces: s.attached(),
            links: s.links.iter().map(Link::from).collect(),
            xdp_mode: s.xdp_mode.clone(),
            services: s.services,
            services_down: s.services_down,
            real_servers: s.real_servers,
            connections: s.connections,
            connection_capacity: s.connection_capacity,
            reasons: Reasons(s.reasons.clone()),
        }
    }
}

fn xdp_mode(_: &mut SchemaGenerator) -> Schema {
    one_of(&["native", "generic"], false)
}
