//! What a change did: `lbctl apply --json`, and `--json` on ipvsadm's changing commands
//! (`-A -E -D -C -a -e -d --set`, `-R`, `-Z`); and `-S --json`, the table as rules.

use schemars::JsonSchema;
use serde::Serialize;

use super::version::Version;

/// The changes lbd made (with `dry_run`, would make), one line each as `lbctl apply` prints
/// them; empty when there was nothing to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(
    deny_unknown_fields,
    title = "lbctl apply --json; -A -E -D -C -a -e -d --set -R -Z --json"
)]
pub struct Changes {
    pub version: Version,
    pub changes: Vec<String>,
    /// Nothing was changed: the changes are what would be done.
    pub dry_run: bool,
}

impl Changes {
    pub fn new(changes: &[String], dry_run: bool) -> Self {
        Self {
            version: Version,
            changes: changes.to_vec(),
            dry_run,
        }
    }
}

/// `lbctl -S --json`: the rules `-S` prints, one string each, in its order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "lbctl -S --json")]
pub struct Rules {
    pub version: Version,
    pub rules: Vec<String>,
}
