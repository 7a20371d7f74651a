//! Changes lbd's sync sender is told of (`lb_sync_events`): a connection confirmed, moved to
//! another state, or taken over from another director. The sender then reads only the entries
//! named here (and those due a refresh) instead of the whole table every pass; a change the
//! full ring cannot take is counted (`sync_event_lost`) and has the sender read the whole
//! table once more. Nothing is written unless a sender runs (`CFG_F_SYNC_EVENTS`).

use lb_common::{CFG_F_SYNC_EVENTS, FlowKey, reason};

use crate::{count::count, lookup::config, maps::SYNC_EVENTS};

/// Reports that `flow`'s entry changed.
#[inline(always)]
pub fn report(flow: &FlowKey) {
    match config() {
        Ok(cfg) if cfg.flags & CFG_F_SYNC_EVENTS != 0 => {}
        _ => return,
    }
    if SYNC_EVENTS.output::<FlowKey>(flow, 0).is_err() {
        count(reason::SYNC_EVENT_LOST);
    }
}
