//! Making a validated config the desired state: where every change comes (ipvsadm edits,
//! `apply`, SIGHUP). Only runtime settings may change; the maps are made to hold it
//! (each service flipped in one map update; on failure the previous state is applied again);
//! then it is persisted, and only then confirmed: a change whose state file cannot be written
//! is taken back out of the maps and refused, so a restarted lbd serves what was confirmed.

use lb_model::config::{
    Config, ConfigError, ConfigErrors, daemon::restart_only_changes, diff::diff,
};
use tracing::{info, warn};

use super::{interfaces, state_file};
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
    /// The config names an interface that does not exist: nothing was changed.
    Interface(ConfigError),
    /// The maps could not be written (the previous state was restored as far as possible).
    Apply(String),
    /// The state file could not be written: the change was taken back out of the maps (the
    /// message says whether that worked).
    Persist(String),
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
            CommitError::Interface(e) => ConfigErrors {
                source_name: source.into(),
                errors: vec![e.clone()],
            }
            .to_string(),
            CommitError::Apply(m) | CommitError::Persist(m) => m.clone(),
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
    let changes = diff(ctx.desired(), &new);
    if changes.is_empty() {
        return Ok(changes);
    }
    let mut links = interfaces::plan(ctx, &new).map_err(CommitError::Interface)?;
    if dry_run {
        return Ok(changes);
    }
    if let Err(e) = host::forwarding::enable(&new) {
        return Err(CommitError::Apply(format!("{e:#}")));
    }
    interfaces::attach(ctx, &mut links).map_err(CommitError::Apply)?;
    let old = ctx.desired().clone();
    ctx.conntrack.timeouts = new.timeouts;
    if let Err(e) = set_desired(ctx, &new) {
        interfaces::undo(ctx, &links);
        let back = restore(ctx, &old);
        return Err(CommitError::Apply(match back {
            None => format!("Memory allocation problem: {e} (the previous state is kept)"),
            Some(b) => format!(
                "Memory allocation problem: {e}; restoring the previous state failed too: {b}"
            ),
        }));
    }
    if let Some(p) = ctx.state_file.clone()
        && let Err(e) = state_file::persist(&p, &new)
    {
        warn!(path = %p.display(), "state not persisted, the change is taken back: {e}");
        interfaces::undo(ctx, &links);
        let mut back = restore(ctx, &old);
        if e.replaced
            && let Err(again) = state_file::persist(&p, &old)
        {
            let also = format!("the state file may hold the refused state: {again}");
            back = Some(match back {
                Some(b) => format!("{b}; {also}"),
                None => also,
            });
        }
        return Err(CommitError::Persist(match back {
            None => format!(
                "the state file could not be written ({e}); the change was not made (the previous state is kept)"
            ),
            Some(b) => format!(
                "the state file could not be written ({e}); taking the change back failed: {b}"
            ),
        }));
    }
    interfaces::finish(ctx, &links, &new);
    info!(changes = changes.len(), "new state applied");
    Ok(changes)
}

/// Makes `cfg` the desired state. Tables replaced in the last second are still quarantined (a
/// packet may still read them): a burst of changes to large tables can find no free region
/// yet. Once the quarantine is over there is room again; applying again finishes the change.
fn set_desired(ctx: &mut Context, cfg: &Config) -> Result<(), ApplyError> {
    match ctx.set_desired(cfg) {
        Err(ApplyError::Compile(CompileError::TableFull(_))) => {
            std::thread::sleep(REGION_QUARANTINE + std::time::Duration::from_millis(50));
            ctx.set_desired(cfg).map(drop)
        }
        r => r.map(drop),
    }
}

/// Makes `old` the desired state again after a change failed; why that failed too, if it did.
fn restore(ctx: &mut Context, old: &Config) -> Option<String> {
    ctx.conntrack.timeouts = old.timeouts;
    set_desired(ctx, old).err().map(|e| e.to_string())
}
