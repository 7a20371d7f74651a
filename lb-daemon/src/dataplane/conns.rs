//! Reading and removing connections: the connection table, persistence templates and
//! locality entries as lbd's upkeep needs them, and the monotonic clock the data plane
//! stamps them with.

use std::collections::{BTreeSet, HashSet};

use lb_common::{
    CONN_F_REPLY, CONN_F_SYNCED, Conn, ConnKey4, FAMILY_V6, FlowKey, NatDest, PersistKey,
    RealLimits, RealServer, Service, TEMPLATE_F_SYNCED, Template, VipKey,
};

use super::{Dataplane, Result, batch};

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    // clock_gettime(2) fails only for a clock the kernel does not have.
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Whether a connection in `state` counts as active (IPVS's active TCP states, see
/// `lb_common::conn_active`).
pub fn is_active(state: u8) -> bool {
    lb_common::conn_active(state)
}

/// What lbd needs to know of a running data plane to take it over (a restart or an
/// upgrade): its services and VIP markers, its real servers with their thresholds, the
/// address filter and the scheduler table's size.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub services: Vec<(VipKey, Service)>,
    /// Every real-server id in use (family set), with its entry and thresholds.
    pub reals: Vec<(u32, RealServer, RealLimits)>,
    pub addr_filter: Vec<u64>,
    pub table_capacity: u32,
    /// The classifier's entries (trie prefix length, data, rules).
    pub marks: Vec<(u32, lb_common::MarkAddr, lb_common::MarkRules)>,
}

impl Dataplane {
    /// The kept destination of a firewall-mark service's `nat` connection, by its reply
    /// direction (`lb_common::NatDest`).
    pub fn nat_dest(&self, reply: &FlowKey) -> Option<NatDest> {
        self.nat_dests.get(reply, 0).ok()
    }

    /// Every kept destination (reply direction, destination).
    pub fn nat_dests(&self) -> Vec<(FlowKey, NatDest)> {
        self.nat_dests.iter().filter_map(|e| e.ok()).collect()
    }

    /// Keeps a destination for a connection's reply direction (a synced connection's).
    pub fn insert_nat_dest(&mut self, reply: &FlowKey, d: &NatDest) -> Result<()> {
        self.nat_dests
            .insert(reply, d, 0)
            .map_err(|source| super::map_err(lb_common::map_name::NAT_DESTS, source))
    }

    /// Removes a kept destination; false when it was already gone.
    pub fn delete_nat_dest(&mut self, reply: &FlowKey) -> bool {
        self.nat_dests.remove(reply).is_ok()
    }

    /// The running data plane's state (see [`Snapshot`]).
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot {
            services: self.services_all(),
            reals: self
                .reals_all()
                .into_iter()
                .map(|(id, r)| (id, r, self.real_limits(id).unwrap_or_default()))
                .collect(),
            addr_filter: self.addr_filter()?,
            table_capacity: self.table_capacity(),
            marks: self.marks_all(),
        })
    }

    /// The real-server ids the data plane's state still names: connections (both
    /// directions), persistence templates and lblc/lblcr sets.
    pub fn referenced_real_ids(&self) -> HashSet<u32> {
        let mut ids: HashSet<u32> = self
            .connections()
            .into_iter()
            .map(|(_, c)| c.real)
            .collect();
        ids.extend(self.persist_templates().into_iter().map(|(_, t)| t.real));
        for (_, l) in self.locality_entries() {
            ids.extend(l.reals.iter().take(l.count as usize).copied());
        }
        ids
    }

    /// Removes every connection of the real servers `reals` (their `nat` reply entries too)
    /// in one walk of the connection table, and takes them out of their active / inactive
    /// counts: a drain's deadline, a real server down with `on_down: expire`, or removed real
    /// servers with `expire_nodest_conn`. The next packet of such a connection is scheduled
    /// as a new flow. Returns how many connections were removed.
    pub fn expire_reals(&mut self, reals: &BTreeSet<u32>) -> Result<usize> {
        let mut removed = 0;
        for (key, c) in self.connections() {
            if !reals.contains(&c.real) {
                continue;
            }
            if c.flags & CONN_F_REPLY != 0 {
                self.delete_conn(&key);
                continue;
            }
            // Read again: take back the counts of the state it is in now.
            let Some(c) = self.conn(&key).filter(|c| reals.contains(&c.real)) else {
                continue;
            };
            if self.delete_conn(&key) {
                removed += 1;
                // A synced entry was never in this director's counts.
                if c.flags & CONN_F_SYNCED == 0 {
                    let (a, i) = if is_active(c.state) { (-1, 0) } else { (0, -1) };
                    self.add_real_conns(c.real, a, i)?;
                }
            }
        }
        Ok(removed)
    }
}

/// What [`Dataplane::insert_synced_conn`] did with a connection from another director.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncedInsert {
    /// A new entry of the confirmed table.
    New,
    /// An entry synced before, replaced (state, real server, time refreshed).
    Refreshed,
    /// This director holds the flow itself (confirmed or not): its own entry wins, unchanged.
    Local,
    /// The confirmed table is full: nothing inserted.
    Full,
}

impl Dataplane {
    /// Inserts (or refreshes) a connection learnt from another director's sync message into
    /// the confirmed table of its family, flagged [`CONN_F_SYNCED`] (`c.flags` should carry
    /// it). An entry of this director's own traffic is never replaced. Synced entries are
    /// counted in the table's entries but in no real server's active / inactive counts.
    pub fn insert_synced_conn(&mut self, key: &FlowKey, c: &Conn) -> SyncedInsert {
        let existing = self.conn(key);
        if existing.is_some_and(|e| e.flags & CONN_F_SYNCED == 0) {
            return SyncedInsert::Local;
        }
        // BPF_NOEXIST for a new entry: if `lb` inserted the flow since the look-up, its
        // entry stays and this one is refused. BPF_EXIST for a refresh: an entry that lbd's
        // expiry removed meanwhile is not brought back uncounted.
        let flags = if existing.is_some() { 2 } else { 1 };
        let r = if key.family == FAMILY_V6 {
            self.conns6.insert(key, c, flags)
        } else {
            self.conns.insert(ConnKey4::of(key), c, flags)
        };
        match (r, existing) {
            (Ok(()), Some(_)) => SyncedInsert::Refreshed,
            (Ok(()), None) => {
                self.count_entries(key.family, 1);
                SyncedInsert::New
            }
            (Err(aya::maps::MapError::SyscallError(e)), None)
                if e.io_error.raw_os_error() == Some(libc::E2BIG) =>
            {
                SyncedInsert::Full
            }
            (Err(_), _) => SyncedInsert::Local,
        }
    }
}

/// One connection from another director for [`Dataplane::insert_synced_conns`].
#[derive(Clone, Copy, Debug)]
pub struct SyncedEntry {
    pub key: FlowKey,
    pub conn: Conn,
    /// Whether the caller wrote this flow as synced before (a hint that the entry exists:
    /// it is looked up first; without it, the entry is created with `BPF_NOEXIST` at once).
    pub known: bool,
}

impl Dataplane {
    /// [`Dataplane::insert_synced_conn`] for many connections, in order, with what each
    /// became; fewer system calls than one at a time: a flow the caller has not written
    /// before costs one (its creation with `BPF_NOEXIST`, which keeps an entry of this
    /// director's own, however recent); a known one costs its look-up, and every synced
    /// entry refreshed is written in one batch per family (`BPF_MAP_UPDATE_BATCH`).
    ///
    /// The batch write is `BPF_ANY` (the kernel's batch update takes no `BPF_EXIST`): `lb`
    /// may, between the look-up and the write, make one of these entries its own (a packet
    /// of the flow forwarded by it), which the write then marks synced again. The next packet
    /// makes it this director's again, counting it once more; the expiry pass corrects that
    /// count. The window is the time to look up one call's entries (a few hundred
    /// microseconds for a datagram burst's), as the data plane's own in-place updates race.
    pub fn insert_synced_conns(&mut self, entries: &[SyncedEntry]) -> Vec<SyncedInsert> {
        let mut out = vec![SyncedInsert::Local; entries.len()];
        // Refreshes by family: index into `entries`, key, value.
        let mut v4: (Vec<usize>, Vec<ConnKey4>, Vec<Conn>) = Default::default();
        let mut v6: (Vec<usize>, Vec<FlowKey>, Vec<Conn>) = Default::default();
        for (i, e) in entries.iter().enumerate() {
            // This director's unconfirmed flow (read through the shared mapping, no call).
            if self.find_new_conn(&e.key).is_some() {
                continue;
            }
            // A flow not seen before is created at once; one that exists is looked up below.
            if !e.known
                && let Some(r) = self.create_synced(&e.key, &e.conn)
            {
                out[i] = r;
                continue;
            }
            let existing = if e.key.family == FAMILY_V6 {
                self.conns6.get(&e.key, 0).ok()
            } else {
                self.conns.get(&ConnKey4::of(&e.key), 0).ok()
            };
            match existing {
                None => {
                    out[i] = self
                        .create_synced(&e.key, &e.conn)
                        .unwrap_or(SyncedInsert::Local)
                }
                Some(c) if c.flags & CONN_F_SYNCED == 0 => {}
                Some(_) if e.key.family == FAMILY_V6 => {
                    v6.0.push(i);
                    v6.1.push(e.key);
                    v6.2.push(e.conn);
                }
                Some(_) => {
                    v4.0.push(i);
                    v4.1.push(ConnKey4::of(&e.key));
                    v4.2.push(e.conn);
                }
            }
        }
        let written = batch::update_existing(&mut self.conns, &v4.1, &v4.2);
        for (i, ok) in v4.0.into_iter().zip(written) {
            out[i] = if ok {
                SyncedInsert::Refreshed
            } else {
                SyncedInsert::Local
            };
        }
        let written = batch::update_existing(&mut self.conns6, &v6.1, &v6.2);
        for (i, ok) in v6.0.into_iter().zip(written) {
            out[i] = if ok {
                SyncedInsert::Refreshed
            } else {
                SyncedInsert::Local
            };
        }
        out
    }

    /// Creates a synced entry with `BPF_NOEXIST`; None when the flow has an entry already.
    fn create_synced(&mut self, key: &FlowKey, c: &Conn) -> Option<SyncedInsert> {
        let r = if key.family == FAMILY_V6 {
            self.conns6.insert(key, c, batch::BPF_NOEXIST)
        } else {
            self.conns.insert(ConnKey4::of(key), c, batch::BPF_NOEXIST)
        };
        match r {
            Ok(()) => {
                self.count_entries(key.family, 1);
                Some(SyncedInsert::New)
            }
            Err(aya::maps::MapError::SyscallError(e)) => match e.io_error.raw_os_error() {
                Some(libc::EEXIST) => None,
                Some(libc::E2BIG) => Some(SyncedInsert::Full),
                _ => Some(SyncedInsert::Local),
            },
            Err(_) => Some(SyncedInsert::Local),
        }
    }
}

impl Dataplane {
    /// Inserts (or refreshes) a persistence template learnt from another director (`t.flags`
    /// should carry [`TEMPLATE_F_SYNCED`]): created with `BPF_NOEXIST`; an existing synced
    /// one is replaced (real server, time); one of this director's own (no flag) is kept, as a
    /// director's own connection entries are.
    pub fn insert_synced_template(&mut self, key: &PersistKey, t: &Template) -> SyncedInsert {
        let full = |e: &aya::maps::MapError| {
            matches!(e, aya::maps::MapError::SyscallError(s)
                if s.io_error.raw_os_error() == Some(libc::E2BIG))
        };
        match self.persist.insert(key, t, batch::BPF_NOEXIST) {
            Ok(()) => return SyncedInsert::New,
            Err(e) if full(&e) => return SyncedInsert::Full,
            Err(_) => {}
        }
        match self.persist.get(key, 0) {
            Ok(e) if e.flags & TEMPLATE_F_SYNCED != 0 => {
                match self.persist.insert(key, t, batch::BPF_EXIST) {
                    Ok(()) => SyncedInsert::Refreshed,
                    Err(_) => SyncedInsert::Local,
                }
            }
            _ => SyncedInsert::Local,
        }
    }
}
