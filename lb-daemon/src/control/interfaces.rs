//! The interfaces `lb` is attached to, changed by a config change while lbd runs (`lbctl
//! apply`, a SIGHUP reload): the interfaces added are attached before the maps change, those
//! removed are detached once the change is confirmed, and the links of the others (with their
//! traffic and connections) are never touched. The maps are shared by every interface, so a
//! connection keeps its entry whichever interfaces come and go.

use lb_model::config::{Config, ConfigError};
use tracing::{info, warn};

use crate::{context::Context, host};

/// What a change does to the interfaces.
#[derive(Debug, Default)]
pub struct Change {
    added: Vec<String>,
    removed: Vec<String>,
    /// The smallest MTU of the new set (the tunnels' fallback).
    mtu: u32,
    /// The fallback MTU before the change (set by [`attach`]).
    old_mtu: u32,
}

/// What `new` changes in the interfaces `lb` is attached to. Every interface it names must
/// exist: an error names the first that does not, by its config field, and nothing changes.
pub fn plan(ctx: &Context, new: &Config) -> Result<Change, ConfigError> {
    let mtu = host::mtu::smallest(new)?;
    let want = new.interfaces();
    Ok(Change {
        added: want
            .iter()
            .filter(|i| !ctx.interfaces.contains(i))
            .cloned()
            .collect(),
        removed: ctx
            .interfaces
            .iter()
            .filter(|i| !want.contains(i))
            .cloned()
            .collect(),
        mtu,
        old_mtu: 0,
    })
}

/// Attaches `lb` to the interfaces added (in the running XDP mode) and makes the new set's
/// smallest MTU the tunnels' fallback for the next apply. On an error the interfaces it
/// attached are detached again and the error is returned: nothing changed.
pub fn attach(ctx: &mut Context, ch: &mut Change) -> Result<(), String> {
    for (n, iface) in ch.added.iter().enumerate() {
        if let Err(e) = ctx.dp.attach(iface, ctx.xdp_mode, false) {
            for done in &ch.added[..n] {
                detach_one(ctx, done);
            }
            return Err(format!(
                "attaching XDP ({} mode) to {iface}: {e} (nothing was changed)",
                ctx.xdp_mode
            ));
        }
        info!(interface = %iface, mode = %ctx.xdp_mode, "lb attached: the config names the interface now");
    }
    ch.old_mtu = ctx.plan.set_mtu(ch.mtu);
    Ok(())
}

/// Takes [`attach`] back after the change failed: the interfaces it attached are detached and
/// the fallback MTU is the old one again (restore the old state after this).
pub fn undo(ctx: &mut Context, ch: &Change) {
    for iface in &ch.added {
        detach_one(ctx, iface);
    }
    ctx.plan.set_mtu(ch.old_mtu);
}

/// The change is confirmed: `lb` is detached from the interfaces removed, and the context
/// lists the new set (in the config's order).
pub fn finish(ctx: &mut Context, ch: &Change, new: &Config) {
    for iface in &ch.removed {
        detach_one(ctx, iface);
        info!(interface = %iface, "lb detached: the config no longer names the interface");
    }
    ctx.interfaces = new.interfaces();
}

fn detach_one(ctx: &mut Context, iface: &str) {
    if let Err(e) = ctx.dp.detach(iface) {
        warn!(interface = %iface, "detaching lb: {e}");
    }
}
