//! lbctl's JSON contract: what `--json` prints, one type per output, and the JSON Schema of
//! each (shipped in `docs/json/`, generated from these types, checked against real outputs).
//!
//! These are the outputs scripts read, kept apart from lbd's wire format
//! (`lb_model::api`): lbd and lbctl may change how they talk without changing what a script
//! sees. Every output is one JSON object with a [`Version`] field (`"version": 1`);
//! `lbctl trace --json` prints one such object per line. Counters are objects keyed by name.
//! A command that fails prints an [`error::ErrorOutput`] on standard output instead, with
//! the exit status of its text form.
//!
//! Within a version, outputs only gain fields (a script ignores what it does not know);
//! a field removed, renamed or changed in meaning makes the next version.

pub mod changes;
pub mod config;
pub mod connections;
pub mod director;
pub mod error;
pub mod health;
pub mod schema;
pub mod services;
pub mod status;
pub mod trace;
mod types;
mod version;

use serde::Serialize;

pub use self::version::{VERSION, Version};

/// An output as lbctl prints it: pretty JSON and a newline.
pub fn to_text<T: Serialize>(output: &T) -> String {
    let mut s = serde_json::to_string_pretty(output).expect("outputs always serialise");
    s.push('\n');
    s
}

/// An output as one line (`lbctl trace --json` prints one per event).
pub fn to_line<T: Serialize>(output: &T) -> String {
    serde_json::to_string(output).expect("outputs always serialise")
}
