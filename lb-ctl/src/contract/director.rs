//! `lbctl director drain|undrain|status --json`: the director's announcement through BIRD.

use std::net::IpAddr;

use lb_model::api::DirectorView;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use super::{types::ip, version::Version};

/// `lbctl director ... --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl director --json")]
pub struct Director {
    pub version: Version,
    /// Whether lbd's config has an `announce` section (else it announces nothing).
    pub announcing: bool,
    /// `lb` is attached to the interface.
    pub attached: bool,
    /// Drained by `lbctl director drain`.
    pub drained: bool,
    /// The VIPs that should be announced now, sorted.
    #[schemars(schema_with = "ips")]
    pub wanted: Vec<IpAddr>,
    /// The VIPs of the include file BIRD last accepted, sorted.
    #[schemars(schema_with = "ips")]
    pub announced: Vec<IpAddr>,
    /// Why the last attempt to tell BIRD failed (null: it did not).
    pub error: Option<String>,
    /// BIRD's control socket (null when not announcing).
    pub bird_socket: Option<String>,
    /// lbd's include file (null when not announcing).
    pub include_file: Option<String>,
}

fn ips(g: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": ip(g) })
}

impl From<&DirectorView> for Director {
    fn from(v: &DirectorView) -> Self {
        Self {
            version: Version,
            announcing: v.announcing,
            attached: v.attached,
            drained: v.drained,
            wanted: v.wanted.clone(),
            announced: v.announced.clone(),
            error: v.error.clone(),
            bird_socket: v.bird_socket.clone(),
            include_file: v.include_file.clone(),
        }
    }
}
