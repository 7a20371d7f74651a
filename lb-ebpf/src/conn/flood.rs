//! Flood mode (Katran's): above `GlobalConfig::flood_window_max` new connections on one CPU
//! within one window of 2^`FLOOD_WINDOW_SHIFT` ns, a new connection of a hash-scheduled
//! service (`sh`, `dh`, `mh`, whose choice is the same for every packet of the flow as long as
//! the table does not change) is forwarded by the hash alone and recorded nowhere, so that a
//! flood leaves even the unconfirmed table to the other services' new connections. The
//! count-driven and rotating schedulers have no stateless choice: their new connections are
//! recorded as always.

use lb_common::{FLOOD_WINDOW_SHIFT, GlobalConfig, SCHED_DH, SCHED_MH, SCHED_SH, Service};

use crate::{maps::scratch, scratch::Scratch};

/// This CPU's flood state (`flood_window`, `flood_count` of its scratch slot) and the number
/// of the window `now` falls in; none when flood mode is off.
#[inline(always)]
fn window(cfg: &GlobalConfig, now: u64) -> Option<(*mut Scratch, u32)> {
    if cfg.flood_window_max == 0 {
        return None;
    }
    // Index 0 of a one-entry per-CPU array always exists; `?` is for the type checker.
    let s = scratch()?;
    Some((s, (now >> FLOOD_WINDOW_SHIFT) as u32))
}

/// Counts one new connection on this CPU; true while this CPU is in flood mode.
#[inline(always)]
pub fn note(cfg: &GlobalConfig, now: u64) -> bool {
    let Some((s, w)) = window(cfg, now) else {
        return false;
    };
    // SAFETY: this CPU's scratch slot; only this CPU's programs touch it, one at a time.
    unsafe {
        if (*s).flood_window != w {
            (*s).flood_window = w;
            (*s).flood_count = 0;
        }
        (*s).flood_count += 1;
        (*s).flood_count > cfg.flood_window_max
    }
}

/// Whether this CPU is in flood mode now (a peek: counts nothing). While it is, `lb` looks a
/// SYN up in the connection table only, not in the unconfirmed one: a SYN is nearly always
/// a new flow, and for a hash-scheduled service a retransmitted one goes to the same real
/// server either way. `lb_new` looks the unconfirmed table up for the other services
/// (`conn::find_unconfirmed`), whose choice a second SYN must not change.
#[inline(always)]
pub fn active(cfg: &GlobalConfig, now: u64) -> bool {
    let Some((s, w)) = window(cfg, now) else {
        return false;
    };
    // SAFETY: this CPU's scratch slot; only this CPU's programs touch it, one at a time.
    unsafe { (*s).flood_window == w && (*s).flood_count > cfg.flood_window_max }
}

/// Whether a service's scheduler chooses by a hash of the packet alone (`sh`, `dh`, `mh`):
/// the same real server for every packet of a flow while its table does not change.
#[inline(always)]
pub fn stateless(svc: &Service) -> bool {
    matches!(svc.sched, SCHED_SH | SCHED_DH | SCHED_MH)
}
