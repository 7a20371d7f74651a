//! The contract's version, carried by every output.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

/// The version of lbctl's JSON outputs. Outputs only gain fields within a version; removing,
/// renaming or changing the meaning of a field makes the next one.
pub const VERSION: u32 = 1;

/// The `version` field of every output: always [`VERSION`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(VERSION)
    }
}

impl JsonSchema for Version {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The version of lbctl's JSON contract (outputs only gain fields within a version).",
            "type": "integer",
            "const": VERSION,
        })
    }
}
