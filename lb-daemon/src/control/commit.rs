//! Making a validated config the desired state: where every change comes (ipvsadm edits,
//! `apply`, SIGHUP). Only runtime settings may change; the maps are made to hold it
//! (each service flipped in one map update; on failure the previous state is applied again);
//! then it is persisted.

use lb_model::config::{
    Config, ConfigError, ConfigErrors, daemon::restart_only_changes, diff::diff,
};
use tracing::{info, warn};

use super::state_file;
use crate::{
    context::Context,
    host,
    plan::{ApplyError, CompileError, REGION_QUARANTINE},
};

/// Why a change was not made.
#[derive(Debug)]
pub enum CommitError {
    /// Settings that need a restart of lbd differ: nothing was changed.
    Restart(Vec<ConfigError>),
    /// The maps could not be written (the previous state was restored as far as possible).
    Apply(String),
}

impl CommitError {
    /// The error as a person reads it; `source` names the config.
    pub fn describe(&self, source: &str) -> String {
        match self {
            CommitError::Restart(errors) => ConfigErrors {
                source_name: source.into(),
                errors: errors.clone(),
            }
            .to_string(),
            CommitError::Apply(m) => m.clone(),
        }
    }
}

/// Makes `new` (already validated) the desired state: checks that only runtime settings
/// change, applies it to the maps, persists it. Returns the changes (nothing is done when
/// there are none, or with `dry_run`).
pub fn commit(ctx: &mut Context, new: Config, dry_run: bool) -> Result<Vec<String>, CommitError> {
    let restart = restart_only_changes(&ctx.started, &new);
    if !restart.is_empty() {
        return Err(CommitError::Restart(restart));
    }
    let mut changes = diff(ctx.desired(), &new);
    if dry_run || changes.is_empty() {
        return Ok(changes);
    }
    if let Err(e) = host::forwarding::enable(&new) {
        return Err(CommitError::Apply(format!("{e:#}")));
    }
    let old = ctx.desired().clone();
    ctx.conntrack.timeouts = new.timeouts;
    let mut applied = ctx.set_desired(&new);
    if let Err(ApplyError::Compile(CompileError::TableFull(_))) = applied {
        // Tables replaced in the last second are still quarantined (a packet may still read
        // them): a burst of changes to large tables can find no free region yet. Once the
        // quarantine is over there is room again; applying again finishes the change.
        std::thread::sleep(REGION_QUARANTINE + std::time::Duration::from_millis(50));
        applied = ctx.set_desired(&new);
    }
    if let Err(e) = applied {
        ctx.conntrack.timeouts = old.timeouts;
        let back = ctx.set_desired(&old).err();
        return Err(CommitError::Apply(match back {
            None => format!("Memory allocation problem: {e} (the previous state is kept)"),
            Some(b) => format!(
                "Memory allocation problem: {e}; restoring the previous state failed too: {b}"
            ),
        }));
    }
    info!(changes = changes.len(), "new state applied");
    if let Some(p) = &ctx.state_file
        && let Err(e) = state_file::persist(p, &new)
    {
        warn!(path = %p.display(), "state not persisted: {e}");
        changes.push(format!(
            "! applied, but the state file {} could not be written: {e}",
            p.display()
        ));
    }
    Ok(changes)
}
