//! One module per lbctl command; [`run`] dispatches a parsed command line to it.

pub mod drain;
pub mod list;
pub mod status;
pub mod trace;

use std::io::Write;

use anyhow::Result;

use crate::{
    cli::{Command, GlobalOptions},
    client::Client,
};

/// Runs `command`, writing its output to `out`.
pub fn run(command: Command, global: &GlobalOptions, out: &mut dyn Write) -> Result<()> {
    let client = Client::new(&global.socket);
    match command {
        Command::List(opts) => list::run(&client, &opts, global.json, out),
        Command::Status => status::run(&client, global.json, out),
        Command::Drain(a) => drain::run(&client, a.target.drain_op(a.deadline), global.json, out),
        Command::Undrain(t) => drain::run(&client, t.undrain_op(), global.json, out),
        Command::Health => drain::run_health(&client, global.json, out),
        Command::Trace(a) => trace::run(&client, &a, global.json, out),
    }
}

/// The name of a response's variant, for "unexpected answer" errors.
pub(crate) fn response_kind(r: &lb_common::api::Response) -> &'static str {
    use lb_common::api::Response;
    match r {
        Response::Services { .. } => "services",
        Response::Status(_) => "status",
        Response::RealServer { .. } => "real server",
        Response::Error { .. } => "error",
        Response::TraceStarted => "trace started",
        Response::Trace(_) => "trace event",
    }
}
