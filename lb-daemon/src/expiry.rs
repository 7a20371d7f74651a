//! Connection expiry and accounting: lbd's half of the connection table (a service over
//! `plan` and `dataplane`). `lb` creates entries and moves their state; lbd removes the ones
//! idle longer than their state's timeout (IPVS's `--set tcp tcpfin udp`), keeps each real
//! server's active / inactive counts in step with what it removes, and corrects the drift
//! that races between the data plane and lbd leave behind. The same periodic pass expires persistence
//! templates and `lblc` / `lblcr` mappings, lets overloaded real servers take connections
//! again, and frees removed real servers' ids nothing names any more.

use std::{collections::HashMap, time::Duration};

use lb_common::{
    CONN_F_ONE_PACKET, CONN_F_REPLY, CONN_F_SYNCED, CONN_F_UNCONFIRMED, CONN_S_SYN_RECV, Conn,
    FlowKey, NAT_DEST_GRACE, PROTO_UDP, REAL_F_NAT_DEST, conn_age, conn_time, idle_ns,
};
pub use lb_model::config::Timeouts;
use tracing::{debug, warn};

pub use crate::dataplane::monotonic_ns;
use crate::{
    dataplane::{Dataplane, DataplaneError, is_active},
    plan::{Planner, REAL_ID_QUARANTINE},
};

/// How often lbd walks the connection table to expire idle connections.
pub const PERIOD: Duration = Duration::from_secs(2);

/// What one expiry pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Entries left after the pass.
    pub entries: usize,
    /// Connections removed for being idle past their timeout.
    pub expired: usize,
    /// `nat` reply entries removed with (or after) their connection.
    pub replies_removed: usize,
    /// Kept destinations of firewall-mark `nat` connections removed after their reply entry.
    pub nat_dests_removed: usize,
    /// Count corrections applied (real servers whose counts had drifted).
    pub corrected: usize,
}

/// The expiry pass and its memory of count drift between passes.
#[derive(Debug, Default)]
pub struct Conntrack {
    pub timeouts: Timeouts,
    /// Per real server, the (active, inactive) drift seen by the previous pass.
    drift: HashMap<u32, (i64, i64)>,
}

impl Conntrack {
    pub fn new(timeouts: Timeouts) -> Self {
        Self {
            timeouts,
            drift: HashMap::new(),
        }
    }

    /// One pass over the connection table at time `now` (CLOCK_MONOTONIC ns): removes
    /// expired connections (and their `nat` reply entries), then corrects the counts of the
    /// real servers in `reals` (every id lbd has handed out) where they disagree with the
    /// table.
    ///
    /// The table is read while `lb` keeps changing it, so a disagreement may only be a
    /// connection that started during the read. Only the part of a disagreement seen by two
    /// passes in a row is corrected: a transient one is gone by the next pass, while what a
    /// race left behind (two CPUs counting one state change, a slot cleared by lb and lbd at
    /// once) stays.
    pub fn pass(
        &mut self,
        dp: &mut Dataplane,
        now: u64,
        reals: &[u32],
    ) -> Result<ExpiryReport, DataplaneError> {
        let mut report = ExpiryReport::default();
        let entries = dp.connections();
        let mut live: HashMap<u32, (i64, i64)> = HashMap::new();
        let mut replies: Vec<(FlowKey, Conn)> = Vec::new();
        // The connections kept, with their real servers.
        let mut forward_alive: HashMap<FlowKey, u32> = HashMap::new();
        for (key, c) in entries {
            if c.flags & CONN_F_REPLY != 0 && c.flags & CONN_F_UNCONFIRMED != 0 {
                // An unconfirmed reply slot (a nat connection's replies before its client
                // confirmed it, or a one-packet service's): it goes when idle for as long as
                // an unconfirmed connection may be.
                let limit = if key.proto == PROTO_UDP || c.flags & CONN_F_ONE_PACKET != 0 {
                    self.timeouts.udp as u64 * 1_000_000_000
                } else {
                    self.timeouts.for_state(CONN_S_SYN_RECV)
                };
                if idle_ns(now, c.last_seen) > limit
                    && dp
                        .conn(&key)
                        .is_some_and(|c| idle_ns(now, c.last_seen) > limit)
                    && dp.delete_conn(&key)
                {
                    report.replies_removed += 1;
                }
                continue;
            }
            if c.flags & CONN_F_REPLY != 0 {
                replies.push((key, c));
                continue;
            }
            let idle = |c: &Conn| idle_ns(now, c.last_seen) > self.timeouts.for_state(c.state);
            // The walk is a snapshot: read the entry again before removing it (a packet may
            // have refreshed it since), and take back the counts of the state it is in now.
            if idle(&c)
                && let Some(c) = dp.conn(&key).filter(idle)
            {
                if dp.delete_conn(&key) {
                    report.expired += 1;
                    // A synced entry was never in this director's counts.
                    if c.flags & CONN_F_SYNCED == 0 {
                        let (a, i) = if is_active(c.state) { (-1, 0) } else { (0, -1) };
                        dp.add_real_conns(c.real, a, i)?;
                    }
                }
                continue;
            }
            forward_alive.insert(key, c.real);
            if c.flags & CONN_F_SYNCED != 0 {
                continue;
            }
            let e = live.entry(c.real).or_default();
            if is_active(c.state) {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
        // A reply entry lives as long as its connection (client -> VIP: its key reversed, the
        // VIP its real server's) goes to its real server: once a reused tuple's new connection
        // went to another real server, the old one's replies have nothing to go back to.
        // A firewall-mark service's real server has no VIP: its connection's destination is
        // the one `lb` kept for it (`lb_nat_dests`). A port-0 service's (`vport` 0) is the
        // reply's source port, as `lb`'s `forward_key` has it.
        let mut vips: HashMap<u32, Option<([u32; 4], u16, bool)>> = HashMap::new();
        for (key, c) in replies {
            let vip = *vips.entry(c.real).or_insert_with(|| {
                dp.real(c.real)
                    .ok()
                    .map(|r| (r.vaddr, r.vport, r.flags & REAL_F_NAT_DEST != 0))
            });
            let forward = vip.and_then(|(vaddr, vport, kept)| {
                let dst = if kept { dp.nat_dest(&key)?.addr } else { vaddr };
                Some(FlowKey {
                    src: key.dst,
                    dst,
                    sport: key.dport,
                    dport: if vport != 0 { vport } else { key.sport },
                    proto: key.proto,
                    family: key.family,
                    _pad: [0; 2],
                })
            });
            // The forward entry may have been created after the walk passed it (lb inserts it
            // first, then the reply entry): look again before removing.
            let alive = forward.is_some_and(|f| {
                forward_alive.get(&f) == Some(&c.real)
                    || dp.conn(&f).is_some_and(|f| f.real == c.real)
            });
            if !alive && dp.delete_conn(&key) {
                report.replies_removed += 1;
            }
        }
        report.nat_dests_removed = expire_nat_dests(dp, now);
        let mut drift = HashMap::new();
        for &id in reals {
            let want = live.get(&id).copied().unwrap_or((0, 0));
            let have = dp.real_conns(id)?;
            let now_drift = (want.0 - have.active, want.1 - have.inactive);
            if now_drift == (0, 0) {
                continue;
            }
            let prev = self.drift.get(&id).copied().unwrap_or((0, 0));
            let fix = (
                persistent(prev.0, now_drift.0),
                persistent(prev.1, now_drift.1),
            );
            if fix != (0, 0) {
                dp.add_real_conns(id, fix.0, fix.1)?;
                report.corrected += 1;
            }
            drift.insert(id, (now_drift.0 - fix.0, now_drift.1 - fix.1));
        }
        self.drift = drift;
        report.entries = forward_alive.len();
        Ok(report)
    }
}

/// Removes the kept destinations (`lb_nat_dests`) of connections whose reply entry, confirmed
/// or not, is gone, once they are older than [`NAT_DEST_GRACE`] (`lb` keeps the destination
/// just before it records the reply slot, which a flood may take). Returns how many.
fn expire_nat_dests(dp: &mut Dataplane, now: u64) -> usize {
    let t = conn_time(now);
    let mut removed = 0;
    for (key, d) in dp.nat_dests() {
        if conn_age(t, d.since) > NAT_DEST_GRACE
            && dp.conn(&key).is_none_or(|c| c.flags & CONN_F_REPLY == 0)
            && dp.delete_nat_dest(&key)
        {
            removed += 1;
        }
    }
    removed
}

/// Removes the persistence templates idle longer than their service's timeout (`timeouts`:
/// seconds by service id; a template of a service no longer persistent goes at once).
/// Returns how many were removed.
pub fn expire_templates(dp: &mut Dataplane, now: u64, timeouts: &HashMap<u32, u32>) -> usize {
    let mut removed = 0;
    for (key, t) in dp.persist_templates() {
        let limit = timeouts.get(&t.service).map(|s| *s as u64 * 1_000_000_000);
        let expired = match limit {
            Some(l) => now.saturating_sub(t.last_seen_ns) > l,
            None => true,
        };
        if expired && dp.delete_persist(&key) {
            removed += 1;
        }
    }
    removed
}

/// The part of a drift seen twice with the same sign.
fn persistent(prev: i64, now: i64) -> i64 {
    if prev.signum() != now.signum() {
        0
    } else if now > 0 {
        prev.min(now)
    } else {
        prev.max(now)
    }
}

/// IPVS's `ip_vs_unbind_dest` for the real servers in `reals`: each one overloaded whose
/// connections (active + inactive) are now below its lower threshold (or three quarters of
/// its upper one when it has no lower) takes new connections again. lbd runs it after each
/// expiry pass, which is when connections leave the counts. Returns how many were cleared.
pub fn refresh_overload(dp: &mut Dataplane, reals: &[u32]) -> Result<usize, DataplaneError> {
    let mut cleared = 0;
    for &id in reals {
        let l = dp.real_limits(id)?;
        if l.overloaded == 0 {
            continue;
        }
        let c = dp.real_conns(id)?;
        let total = (c.active.max(0) + c.inactive.max(0)) as u64;
        if l.may_clear(total) {
            dp.set_real_limits(id, &lb_common::RealLimits { overloaded: 0, ..l })?;
            cleared += 1;
        }
    }
    Ok(cleared)
}

/// Removes the `lblc` / `lblcr` locality entries idle longer than their service's expiration
/// (`expirations`: seconds by service id; an entry of any other service goes at once).
/// Returns how many were removed.
pub fn expire_locality(dp: &mut Dataplane, now: u64, expirations: &HashMap<u32, u32>) -> usize {
    let mut removed = 0;
    for (key, e) in dp.locality_entries() {
        let expired = match expirations.get(&key.service) {
            Some(s) => now.saturating_sub(e.last_use_ns) > *s as u64 * 1_000_000_000,
            None => true,
        };
        // Read again: a packet may have used it since the walk.
        let still = dp
            .locality(&key)
            .is_some_and(|e| match expirations.get(&key.service) {
                Some(s) => now.saturating_sub(e.last_use_ns) > *s as u64 * 1_000_000_000,
                None => true,
            });
        if expired && still && dp.delete_locality(&key) {
            removed += 1;
        }
    }
    removed
}

/// One round of upkeep (every [`PERIOD`]): persistence templates, `lblc` / `lblcr` mappings,
/// the connection-table pass, removed real servers' ids, overload flags.
pub fn tick(dp: &mut Dataplane, plan: &mut Planner, conntrack: &mut Conntrack) {
    let now = monotonic_ns();
    let templates = expire_templates(dp, now, &plan.persist_timeouts());
    if templates > 0 {
        debug!(templates, "persistence templates expired");
    }
    let locality = expire_locality(dp, now, &plan.locality_expirations());
    if locality > 0 {
        debug!(locality, "lblc/lblcr mappings expired");
    }
    let reals = plan.all_real_ids();
    match conntrack.pass(dp, now, &reals) {
        Ok(r) if r.expired + r.replies_removed + r.corrected > 0 => {
            debug!(?r, "connection table pass")
        }
        Ok(_) => {}
        Err(e) => warn!("connection table pass: {e}"),
    }
    if plan.real_ids_to_recycle(REAL_ID_QUARANTINE) {
        let referenced = dp.referenced_real_ids();
        match plan.recycle_real_ids(dp, &referenced, REAL_ID_QUARANTINE) {
            Ok(0) => {}
            Ok(n) => debug!(ids = n, "removed real servers' ids free again"),
            Err(e) => warn!("recycling real-server ids: {e}"),
        }
    }
    match refresh_overload(dp, &plan.limited_reals()) {
        Ok(0) => {}
        Ok(n) => debug!(real_servers = n, "below their lower threshold again"),
        Err(e) => warn!("connection thresholds: {e}"),
    }
}
