//! `lbctl get config --json`: the desired state as a config.

use schemars::JsonSchema;
use serde::Serialize;

use super::version::Version;

/// `lbctl get config --json`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl get config --json")]
pub struct ConfigOutput {
    pub version: Version,
    /// The config as `lbctl apply -f` takes it back (the format of lbd's config file, whose
    /// schema is `docs/lb.schema.json`).
    #[schemars(extend("type" = "object"))]
    pub config: serde_json::Value,
}
