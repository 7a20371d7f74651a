//! One module per lbctl command; [`run`] dispatches a parsed command line to it.

pub mod apply;
pub mod director;
pub mod drain;
pub mod edit;
pub mod generate;
pub mod list;
pub mod mark;
pub mod proc;
pub mod status;
pub mod sysctl;
pub mod top;
pub mod trace;

use std::io::{Read, Write};

use anyhow::{Context, Result};
use lb_model::api::{Op, Response};

use crate::{cli::GlobalOptions, client::Client, command::Command, contract::error::ErrorCode};

/// A command that failed the way ipvsadm's do: lbctl prints the message as it is and exits
/// with ipvsadm's status for it (with `--json`, as an error of `code`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    pub status: u8,
    pub code: ErrorCode,
}

impl Failure {
    /// A listing that failed (`-L -t` of no such service): ipvsadm's `exit(1)`.
    pub fn listing(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: 1,
            code: ErrorCode::NotFound,
        }
    }

    /// A change refused (by lbd where ipvsadm's kernel would refuse it): ipvsadm prints
    /// `ipvs_strerror(errno)` and `process_options` returns -1, so it exits with 255.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: 255,
            code: ErrorCode::Refused,
        }
    }

    /// What lb does not do, with the status ipvsadm gives the kernel's refusal (255).
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::NotSupported,
            ..Self::refused(message)
        }
    }

    /// A command line refused (`fail(2, ...)`), or popt's complaint (255).
    pub fn usage(message: impl Into<String>, status: u8) -> Self {
        Self {
            message: message.into(),
            status,
            code: ErrorCode::Usage,
        }
    }
}

/// Runs `command`, reading `-R` rules from `input` and writing its output to `out`.
pub fn run(
    command: Command,
    global: &GlobalOptions,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<()> {
    let client = Client::new(&global.socket);
    let text = match command {
        // A trace streams until interrupted: straight to the output.
        Command::Trace(a) => return trace::run(&client, &a, global.json, out),
        Command::List(what, opts) => list::run(&client, &what, &opts, global.json)?,
        Command::Save(opts) => list::save(&client, &opts, global.json)?,
        Command::Edit(e) => edit::one(&client, e, global.json)?,
        Command::Restore {
            line_by_line: false,
        } => edit::restore(&client, input, global.json)?,
        Command::Restore { line_by_line: true } => {
            edit::restore_lines(&client, input, global.json)?
        }
        Command::Zero(service) => edit::zero(&client, service, global.json)?,
        Command::StartDaemon { role, options } => {
            list::daemon_op(&client, Op::StartDaemon { role, options }, global.json)?
        }
        Command::StopDaemon { role } => {
            list::daemon_op(&client, Op::StopDaemon { role }, global.json)?
        }
        Command::Status => status::run(&client, global.json)?,
        Command::Apply { file, dry_run } => apply::apply(&client, &file, dry_run, global.json)?,
        Command::GetConfig => apply::get_config(&client, global.json)?,
        Command::Completions(shell) => generate::completions(shell),
        Command::Man(verb) => generate::man(verb.as_deref())?,
        Command::GenerateDocs(dir) => generate::write_docs(&dir)?,
        Command::Top(_) if global.json => {
            return Err(Failure::usage(
                "top has no JSON output: lbctl -L --json and lbctl status --json carry its numbers",
                2,
            )
            .into());
        }
        Command::Top(a) => return top::run(&client, &a, out),
        // Their output is the kernel's text format; the JSON forms of the same numbers are
        // -L, -L -c and status's, and get config's.
        Command::Proc(_) | Command::Sysctl(_) if global.json => {
            return Err(Failure::usage(
                "proc and sysctl print the kernel's text formats and have no JSON output: lbctl -L --json, -L -c --json and get config --json carry their numbers",
                2,
            )
            .into());
        }
        Command::Proc(a) => proc::run(&client, &a)?,
        Command::Sysctl(a) => sysctl::run(&client, &a)?,
        Command::Drain(a) => {
            capture(|o| drain::run(&client, a.target.drain_op(a.deadline), global.json, o))?
        }
        Command::Undrain(t) => capture(|o| drain::run(&client, t.undrain_op(), global.json, o))?,
        Command::Health => capture(|o| drain::run_health(&client, global.json, o))?,
        Command::Director(action) => director::run(&client, action, global.json)?,
        Command::BirdConfig(a) if global.json => {
            let _ = a;
            return Err(Failure::usage(
                "bird-config prints BIRD's config language and has no JSON output",
                2,
            )
            .into());
        }
        Command::BirdConfig(a) => director::bird_config(&a),
        Command::Mark(verb) => mark::run(&client, &verb, input, global.json)?,
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the output")
}

/// What a command that writes its output itself would have written.
fn capture(f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<String> {
    let mut buf = Vec::new();
    f(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The name of a response's variant, for "unexpected answer" errors.
pub(crate) fn response_kind(r: &Response) -> &'static str {
    match r {
        Response::Services { .. } => "services",
        Response::Status(_) => "status",
        Response::Applied { .. } => "applied",
        Response::Config { .. } => "config",
        Response::Timeouts { .. } => "timeouts",
        Response::Connections { .. } => "connections",
        Response::CpuStats { .. } => "cpu stats",
        Response::RealServer { .. } => "real server",
        Response::Director(_) => "director",
        Response::Daemons { .. } => "daemons",
        Response::Error { .. } => "error",
        Response::TraceStarted => "trace started",
        Response::Trace(_) => "trace event",
    }
}
