//! The JSON Schema (draft 2020-12) of every output, as shipped in `docs/json/`.

use schemars::{JsonSchema, generate::SchemaSettings};

use super::{
    changes::{Changes, Rules},
    config::ConfigOutput,
    connections::{Connections, Daemons, Timeouts},
    director::Director,
    error::ErrorOutput,
    health::Health,
    services::{RealServerOutput, Services},
    status::Status,
    trace::TraceEvent,
};

/// Every output's schema: (file name in `docs/json/`, the schema as pretty JSON).
pub fn schemas() -> Vec<(&'static str, String)> {
    vec![
        ("list.schema.json", schema::<Services>()),
        ("connections.schema.json", schema::<Connections>()),
        ("timeouts.schema.json", schema::<Timeouts>()),
        ("daemons.schema.json", schema::<Daemons>()),
        ("rules.schema.json", schema::<Rules>()),
        ("changes.schema.json", schema::<Changes>()),
        ("status.schema.json", schema::<Status>()),
        ("config.schema.json", schema::<ConfigOutput>()),
        ("real-server.schema.json", schema::<RealServerOutput>()),
        ("health.schema.json", schema::<Health>()),
        ("director.schema.json", schema::<Director>()),
        ("trace.schema.json", schema::<TraceEvent>()),
        ("error.schema.json", schema::<ErrorOutput>()),
    ]
}

/// `T`'s schema as what lbctl prints (the serialising side: a field printed as null is
/// required and may be null), integers bounded by their type.
fn schema<T: JsonSchema>() -> String {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = serde_json::to_value(&schema).expect("a schema is JSON");
    // Bounds instead of schemars' `uint32`-like formats, which JSON Schema does not have.
    lb_model::config::schema::integer_bounds(&mut value);
    // Back into a schemars schema, which prints its keywords in their usual order.
    let schema: schemars::Schema = serde_json::from_value(value).expect("still a schema");
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
