//! Schemas of the words and addresses outputs carry, where the Rust type alone says too
//! little (an address is text, a scheduler one of a few names).

use schemars::{Schema, SchemaGenerator, json_schema};

/// An IPv4 or IPv6 address as text.
pub(super) fn ip(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "anyOf": [ { "format": "ipv4" }, { "format": "ipv6" } ],
    })
}

/// "address:port", IPv6 addresses in brackets.
pub(super) fn endpoint(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": r"^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$",
    })
}

/// One of `names`, or (with `null`) null.
pub(super) fn one_of(names: &[&str], null: bool) -> Schema {
    let mut values: Vec<serde_json::Value> = names.iter().map(|n| (*n).into()).collect();
    if null {
        values.push(serde_json::Value::Null);
    }
    json_schema!({ "enum": values })
}

/// The reason counters' names (`lb_common::REASON_NAMES`).
pub(super) fn reason(_: &mut SchemaGenerator) -> Schema {
    one_of(&lb_common::REASON_NAMES, false)
}
