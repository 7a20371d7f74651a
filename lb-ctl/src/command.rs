//! What lbctl is to do, once its command line is understood: the [`Command`] that
//! `crate::resolve` makes of a command line (through `crate::ipvsadm` for ipvsadm's flags)
//! and `crate::cmd` runs, and the [`UsageError`] of a command line refused. Below both, so
//! that neither imports the other.

use std::path::PathBuf;

use lb_model::{
    api::{DaemonRole, DirectorAction, Edit, ServiceKey},
    config::SyncConfig,
};

use crate::cli::{
    BirdConfigArgs, DrainArgs, ListOptions, MarkVerb, ProcArgs, RealTarget, Shell, SysctlArgs,
    TopArgs, TraceArgs,
};

/// What `-L` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListWhat {
    /// The virtual server table, or one service of it (`-t`/`-u`).
    Table(Option<ServiceKey>),
    /// `-c`: connections and persistence templates.
    Connections,
    /// `--timeout`.
    Timeouts,
    /// `--daemon`.
    Daemons,
}

/// What to do, resolved from the command flags and verbs.
#[derive(Clone, Debug, PartialEq, Eq)]
// One command per run: the size of its largest variant (an edit carries a whole service
// spec) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// `-L`/`-l`/`--list`, or no command at all.
    List(ListWhat, ListOptions),
    /// `-A -E -D -C -a -e -d --set`: one change.
    Edit(Edit),
    /// `-Z`: one service or all.
    Zero(Option<ServiceKey>),
    /// `-S`.
    Save(ListOptions),
    /// `-R`: rules from stdin; one batch, or (`--line-by-line`) each line on its own.
    Restore { line_by_line: bool },
    /// `--start-daemon master|backup` with ipvsadm's options.
    StartDaemon {
        role: DaemonRole,
        options: SyncConfig,
    },
    /// `--stop-daemon master|backup`.
    StopDaemon { role: DaemonRole },
    /// `status`.
    Status,
    /// `apply -f FILE`.
    Apply { file: PathBuf, dry_run: bool },
    /// `get config`.
    GetConfig,
    /// `completions SHELL`.
    Completions(Shell),
    /// `man [VERB]`.
    Man(Option<String>),
    /// `generate-docs DIR`.
    GenerateDocs(PathBuf),
    /// `drain`.
    Drain(DrainArgs),
    /// `undrain`.
    Undrain(RealTarget),
    /// `health`.
    Health,
    /// `trace`.
    Trace(TraceArgs),
    /// `top`.
    Top(TopArgs),
    /// `proc FILE`.
    Proc(ProcArgs),
    /// `sysctl`.
    Sysctl(SysctlArgs),
    /// `mark add|del|list|import`.
    Mark(MarkVerb),
    /// `director drain|undrain|status`.
    Director(DirectorAction),
    /// `bird-config`.
    BirdConfig(BirdConfigArgs),
}

/// A command line ipvsadm would refuse, with ipvsadm's message; lbctl exits with status 2
/// as ipvsadm's `fail(2, ...)` does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
