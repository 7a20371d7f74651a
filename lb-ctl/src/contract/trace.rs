//! `lbctl trace --json`: one object per line, one line per packet the data plane decided on.

use lb_model::api::TraceView;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use super::{
    types::{endpoint, one_of, reason},
    version::Version,
};

/// One event of `lbctl trace --json` (a line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl trace --json (each line)")]
pub struct TraceEvent {
    pub version: Version,
    /// Wall-clock time, RFC 3339 with microseconds (UTC).
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// The XDP verdict.
    #[schemars(schema_with = "verdict")]
    pub verdict: String,
    /// The reason counted for it.
    #[schemars(schema_with = "reason")]
    pub reason: String,
    /// The packet's protocol; null when it was not parsed.
    #[schemars(schema_with = "packet_protocol")]
    pub protocol: Option<String>,
    /// Source and destination "address:port"; null when the packet was not parsed.
    #[schemars(schema_with = "endpoint_or_null")]
    pub source: Option<String>,
    #[schemars(schema_with = "endpoint_or_null")]
    pub destination: Option<String>,
    /// The real server it went to; null when none.
    #[schemars(schema_with = "endpoint_or_null")]
    pub real: Option<String>,
}

impl From<&TraceView> for TraceEvent {
    fn from(t: &TraceView) -> Self {
        Self {
            version: Version,
            time: t.time.clone(),
            verdict: t.verdict.clone(),
            reason: t.reason.clone(),
            protocol: t.protocol.clone(),
            source: t.source.clone(),
            destination: t.destination.clone(),
            real: t.real.clone(),
        }
    }
}

fn verdict(_: &mut SchemaGenerator) -> Schema {
    one_of(&["tx", "redirect", "pass", "drop", "aborted"], false)
}

fn packet_protocol(_: &mut SchemaGenerator) -> Schema {
    one_of(&["tcp", "udp", "icmp", "icmpv6"], true)
}

fn endpoint_or_null(g: &mut SchemaGenerator) -> Schema {
    let mut s = endpoint(g);
    s.insert("type".into(), serde_json::json!(["string", "null"]));
    s
}
