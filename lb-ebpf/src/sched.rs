//! Stage `schedule`: picks a real server for a new flow from the service's table, which lbd
//! computed by the service's scheduler's rules. Table-driven schedulers differ only in how a
//! slot is chosen: a hash of the client address (`sh`, `mh`; with its port under their
//! `-port` flag) or of the destination address (`dh`), or a rotating per-CPU cursor (`rr`,
//! `wrr`). Count-driven ones (`lc`, `wlc`, `sed`, `nq`, `fo`, `ovf`, `lblc`, `lblcr`) look at
//! every real server's live connection counts.
//!
//! A real server over its upper connection threshold (`RealLimits::overloaded`) gets no new
//! connection from any scheduler, as in IPVS: `rr` and `wrr` move on along their sequence, `sh`
//! and `mh` take the next available slot with their `-fallback` flag and drop the connection
//! without it, `dh` drops it, the count-driven ones pass over it.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_loop;
use lb_common::{
    FlowKey, LBLCR_SET_MAX, MAX_COUNTED_REALS, MAX_SCHED_PROBES, SCHED_F_FALLBACK, SCHED_F_PORT,
    SCHED_FO, SCHED_LBLC, SCHED_LBLCR, SCHED_LC, SCHED_NQ, SCHED_OVF, SCHED_RR, SCHED_SED,
    SCHED_WRR, Service, hash::sched_hash, reason,
};

use crate::{
    maps::{CONFIG, LOCALITY, REAL_CONNS, REAL_LIMITS, SCHED_CURSOR, SCHED_TABLE, SCRATCH},
    verdict::Verdict,
};

#[inline(always)]
pub fn schedule(flow: &FlowKey, svc: &Service, now: u64) -> Result<u32, Verdict> {
    if svc.table_len == 0 {
        return Err(Verdict::drop(reason::DROP_NO_REAL));
    }
    let id = if svc.sched >= SCHED_LBLC {
        locality(svc, now)
    } else if svc.sched >= SCHED_LC {
        least_loaded(svc.sched, svc.table_off, svc.table_len, 0)
    } else {
        table_pick(flow, svc)
    };
    if id == 0 {
        Err(Verdict::drop(reason::DROP_NO_REAL))
    } else {
        Ok(id)
    }
}

/// Whether a real server is over its upper connection threshold (IPVS's
/// `IP_VS_DEST_F_OVERLOAD`).
#[inline(always)]
pub fn overloaded(id: u32) -> bool {
    matches!(REAL_LIMITS.get(id), Some(l) if l.overloaded != 0)
}

/// The table-driven schedulers: the slot by cursor or hash; if its real server is overloaded,
/// the next available one along the table for `rr`, `wrr` and the `-fallback` flags, else none.
#[inline(always)]
fn table_pick(flow: &FlowKey, svc: &Service) -> u32 {
    let rotating = svc.sched == SCHED_RR || svc.sched == SCHED_WRR;
    let pick = if rotating {
        cursor(svc.id)
    } else {
        sched_hash(flow, svc.sched, svc.sched_flags & SCHED_F_PORT != 0)
    };
    let start = pick % svc.table_len;
    let id = cell_id(svc.table_off.wrapping_add(start));
    if id == 0 || !overloaded(id) {
        return id;
    }
    if !rotating && svc.sched_flags & SCHED_F_FALLBACK == 0 {
        return 0;
    }
    let (id, steps) = probe(svc.table_off, svc.table_len, start);
    if rotating && id != 0 {
        // The sequence goes on after the real server taken, as IPVS's position does.
        advance(svc.id, steps);
    }
    id
}

/// The real-server id in scheduler-table slot `i`; 0 if unset.
#[inline(always)]
fn cell_id(i: u32) -> u32 {
    match SCHED_TABLE.get(i) {
        Some(&cell) => cell as u32,
        None => 0,
    }
}

/// The real server a hash-based scheduler (`mh`, `sh`, `dh`) gives a flow: the same choice
/// as when the flow started, as long as the table did not change. None for the others (their
/// choice depended on the moment). For ICMP errors about flows no longer in the table.
#[inline(always)]
pub fn rehash(flow: &FlowKey, svc: &Service) -> Option<u32> {
    if svc.table_len == 0 || matches!(svc.sched, SCHED_RR | SCHED_WRR) || svc.sched >= SCHED_LC {
        return None;
    }
    let pick = sched_hash(flow, svc.sched, svc.sched_flags & SCHED_F_PORT != 0);
    match cell_id(svc.table_off.wrapping_add(pick % svc.table_len)) {
        0 => None,
        id => Some(id),
    }
}

/// This CPU's position in a round-robin service's sequence, advanced by one. Per CPU, so no
/// two CPUs contend for it; each CPU walks the whole sequence in order (IPVS keeps one global
/// position under a lock).
#[inline(always)]
fn cursor(service: u32) -> u32 {
    match SCHED_CURSOR.get_ptr_mut(service) {
        // SAFETY: this CPU's slot.
        Some(c) => unsafe {
            let v = *c;
            *c = v.wrapping_add(1);
            v
        },
        None => 0,
    }
}

#[inline(always)]
fn advance(service: u32, steps: u32) {
    if let Some(c) = SCHED_CURSOR.get_ptr_mut(service) {
        // SAFETY: this CPU's slot.
        unsafe { *c = (*c).wrapping_add(steps) };
    }
}

/// The state of [`probe_step`]'s walk (in the per-CPU scratch map).
#[repr(C)]
pub struct Probe {
    off: u32,
    len: u32,
    start: u32,
    found: u32,
    steps: u32,
    _pad: u32,
}

/// The first available real server after slot `start` of the table at `off` (wrapping), and
/// how many slots on it lies; (0, 0) when none is within [`MAX_SCHED_PROBES`] slots.
#[inline(always)]
fn probe(off: u32, len: u32, start: u32) -> (u32, u32) {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return (0, 0);
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let st = unsafe { &mut (*scratch).probe };
    st.off = off;
    st.len = len;
    st.start = start;
    st.found = 0;
    st.steps = 0;
    let n = if len - 1 < MAX_SCHED_PROBES {
        len - 1
    } else {
        MAX_SCHED_PROBES
    };
    // SAFETY: the callback matches bpf_loop's contract; it finds its state in the scratch map.
    unsafe { bpf_loop(n, probe_step as *mut c_void, core::ptr::null_mut(), 0) };
    // SAFETY: as above.
    unsafe { ((*scratch).probe.found, (*scratch).probe.steps) }
}

/// One slot of [`probe`]'s walk; returns 1 to stop, 0 to go on.
#[inline(never)]
extern "C" fn probe_step(i: u32, _ctx: *mut c_void) -> i64 {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: this CPU's scratch slot; probe filled it before the loop.
    let st = unsafe { &mut (*scratch).probe };
    if st.len == 0 {
        // Never: the table is not empty. Against a division by zero.
        return 1;
    }
    let steps = i.wrapping_add(1);
    let id = cell_id(st.off.wrapping_add((st.start.wrapping_add(steps)) % st.len));
    if id != 0 && !overloaded(id) {
        st.found = id;
        st.steps = steps;
        return 1;
    }
    0
}

/// The state `least_step` carries from one real server to the next (in the per-CPU scratch
/// map).
#[repr(C)]
pub struct Least {
    off: u32,
    len: u32,
    /// sed and nq count active + 1 (1), lc and wlc active x 256 + inactive (0).
    sed: u64,
    /// lc ignores weights (1).
    lc: u64,
    nq: u64,
    /// fo and ovf rank by weight alone (overhead 1 for all).
    fo: u64,
    /// ovf skips real servers with more active connections than their weight.
    ovf: u64,
    best: u64,
    best_oh: u64,
    best_w: u64,
    /// lblc / lblcr (1): note the members of the destination's set as they come by, and
    /// whether some real server has fewer active connections than half its weight.
    loc: u64,
    /// Some real server has active x 2 < weight (IPVS's `is_overloaded` looks for one).
    any_half: u64,
    /// The locality entry existed (1).
    found: u64,
    /// Members of the set (at most `LBLCR_SET_MAX`), newest first, and per member as the walk
    /// found it: weight (0: not schedulable: weight 0, or no longer in the service), overhead
    /// (active x 256 + inactive), active connections, not overloaded (1).
    count: u64,
    set: [u32; LBLCR_SET_MAX],
    m_w: [u64; LBLCR_SET_MAX],
    m_oh: [u64; LBLCR_SET_MAX],
    m_act: [u64; LBLCR_SET_MAX],
    m_ok: [u64; LBLCR_SET_MAX],
    /// When the set last changed (ns).
    last_mod: u64,
    /// [`member_step`]'s results: the positions of the least loaded schedulable member and of
    /// the most loaded member of weight > 0; `LBLCR_SET_MAX` for none.
    dj: u64,
    mj: u64,
}

/// Overheads are capped here (far beyond any real count) so that overhead x weight (< 2^31)
/// fits in 64 bits.
const MAX_OVERHEAD: u64 = (1 << 32) - 1;

/// The count-driven schedulers, with IPVS's formulas (ip_vs_lc.c, ip_vs_wlc.c, ip_vs_sed.c,
/// ip_vs_nq.c, ip_vs_fo.c, ip_vs_ovf.c): over the service's real servers in order, keep the
/// first with the least overhead (divided by weight for wlc, sed and nq, compared by
/// cross-multiplication as IPVS does); nq takes the first real server without active
/// connections outright; fo and ovf rank by weight alone (overhead 1 / weight), ovf skipping
/// real servers with more active connections than their weight. Overloaded real servers are
/// passed over. `loc` (lblc, lblcr: their `wlc` choice) also notes what [`locality_end`]
/// needs. Returns the chosen id, 0 for none.
///
/// The walk is a `bpf_loop` (kernel 5.17+): the verifier checks the step once, where a plain
/// loop is checked once per iteration and path and blew its budget.
#[inline(always)]
fn least_loaded(sched: u8, off: u32, len: u32, loc: u64) -> u32 {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return 0;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let st = unsafe { &mut (*scratch).least };
    st.off = off;
    st.len = len;
    // Volatile stores: LLVM merges neighbouring stores of zero into a memset call.
    put(
        &mut st.sed,
        (sched == SCHED_SED || sched == SCHED_NQ) as u64,
    );
    put(&mut st.lc, (sched == SCHED_LC) as u64);
    put(&mut st.nq, (sched == SCHED_NQ) as u64);
    put(&mut st.fo, (sched == SCHED_FO || sched == SCHED_OVF) as u64);
    put(&mut st.ovf, (sched == SCHED_OVF) as u64);
    put(&mut st.loc, loc);
    put(&mut st.any_half, 0);
    put(&mut st.best, 0);
    // Worse than any real server: the first one always wins.
    put(&mut st.best_oh, MAX_OVERHEAD + 1);
    put(&mut st.best_w, 1);
    let n = if len < MAX_COUNTED_REALS {
        len
    } else {
        MAX_COUNTED_REALS
    };
    // SAFETY: the callback matches bpf_loop's contract; it finds its state in the scratch map.
    unsafe { bpf_loop(n, least_step as *mut c_void, core::ptr::null_mut(), 0) };
    // SAFETY: as above (the map value stays valid for the whole run).
    unsafe { (*scratch).least.best as u32 }
}

/// One real server of [`least_loaded`]'s walk; returns 1 to stop, 0 to go on.
#[inline(never)]
extern "C" fn least_step(i: u32, _ctx: *mut c_void) -> i64 {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: this CPU's scratch slot; least_loaded filled it before the loop.
    let st = unsafe { &mut (*scratch).least };
    if i >= st.len {
        return 1;
    }
    let Some(&cell) = SCHED_TABLE.get(st.off.wrapping_add(i)) else {
        return 1;
    };
    let (id, weight) = (cell as u32, cell >> 32);
    if id == 0 || weight == 0 {
        return 0;
    }
    let (active, inactive) = match REAL_CONNS.get(id) {
        // Counts can be negative for a moment (updates from several CPUs): clamp.
        Some(c) => (clamp(c.active), clamp(c.inactive)),
        None => (0, 0),
    };
    let busy = overloaded(id);
    if st.loc != 0 {
        if active * 2 < weight {
            st.any_half = 1;
        }
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            if (j as u64) < st.count && st.set[j] == id {
                st.m_w[j] = weight;
                st.m_oh[j] = ((active << 8) + inactive).min(MAX_OVERHEAD);
                st.m_act[j] = active;
                st.m_ok[j] = !busy as u64;
            }
            j += 1;
        }
    }
    if busy {
        return 0;
    }
    if st.nq == 1 && active == 0 {
        st.best = id as u64;
        return 1;
    }
    if st.ovf == 1 && active > weight {
        return 0;
    }
    let oh = (st.sed * (active + 1) + (1 - st.sed) * ((active << 8) + inactive)).min(MAX_OVERHEAD);
    let oh = st.fo + (1 - st.fo) * oh;
    let w = st.lc + (1 - st.lc) * weight;
    // oh / w < best_oh / best_w, without division (products < 2^56).
    if oh * st.best_w < st.best_oh * w {
        st.best = id as u64;
        st.best_oh = oh;
        st.best_w = w;
    }
    0
}

/// A volatile store into the scratch map (see [`least_loaded`]).
#[inline(always)]
fn put(p: &mut u64, v: u64) {
    // SAFETY: a valid, aligned reference.
    unsafe { core::ptr::write_volatile(p, v) };
}

/// A count as an overhead input: never negative, and capped at 2^23 (active x 256 stays
/// below 2^31; busy UDP services reach hundreds of thousands of inactive entries, far below).
#[inline(always)]
fn clamp(v: i64) -> u64 {
    if v < 0 {
        0
    } else if v > 0x7f_ffff {
        0x7f_ffff
    } else {
        v as u64
    }
}

/// `lblc` and `lblcr` (IPVS's ip_vs_lblc.c, ip_vs_lblcr.c): the destination address's entry
/// in [`LOCALITY`], one walk over the service's real servers (the `wlc` choice, and what the
/// entry's members look like), then IPVS's decision. The three parts run as two small
/// out-of-line functions around the walk, so that no frame is added on top of another.
#[inline(always)]
fn locality(svc: &Service, now: u64) -> u32 {
    locality_begin(svc.id, now);
    least_loaded(SCHED_LBLC, svc.table_off, svc.table_len, 1);
    // SAFETY: the callback matches bpf_loop's contract; it finds its state in the scratch map.
    unsafe {
        bpf_loop(
            LBLCR_SET_MAX as u32,
            member_step as *mut c_void,
            core::ptr::null_mut(),
            0,
        )
    };
    locality_end((svc.sched == SCHED_LBLCR) as u32, now)
}

/// One member of the set, after the walk: keeps the least loaded schedulable member (IPVS's
/// ip_vs_dest_set_min: weighted least connection, the first in set order on ties) and the
/// most loaded of weight > 0 (ip_vs_dest_set_max); returns 1 to stop, 0 to go on.
#[inline(never)]
extern "C" fn member_step(j: u32, _ctx: *mut c_void) -> i64 {
    let Some(s) = SCRATCH.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: this CPU's scratch slot; locality_begin and the walk filled it.
    let st = unsafe { &mut (*s).least };
    if j == 0 {
        st.dj = LBLCR_SET_MAX as u64;
        st.mj = LBLCR_SET_MAX as u64;
    }
    if j as u64 >= st.count {
        return 1;
    }
    // The mask changes nothing (j < count <= LBLCR_SET_MAX); it bounds the index for the
    // verifier, like the masks of the values read back from the map below.
    const M: usize = LBLCR_SET_MAX - 1;
    let j = j as usize & M;
    let (w, oh) = (st.m_w[j], st.m_oh[j]);
    if w == 0 {
        return 0;
    }
    let d = st.dj as usize;
    if st.m_ok[j] != 0 && (d >= LBLCR_SET_MAX || oh * st.m_w[d & M] < st.m_oh[d & M] * w) {
        st.dj = j as u64;
    }
    let m = st.mj as usize;
    if m >= LBLCR_SET_MAX || st.m_oh[m & M] * w < oh * st.m_w[m & M] {
        st.mj = j as u64;
    }
    0
}

/// Builds the locality key (service, destination address) in the scratch map and copies the
/// entry's members there (refreshing its last use), before the walk.
#[inline(never)]
fn locality_begin(service: u32, now: u64) {
    let Some(s) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run; every store
    // is volatile (both sides of each copy lie in map values: LLVM would call memmove).
    unsafe {
        let k = core::ptr::addr_of_mut!((*s).lkey);
        (*k).service = service;
        // The family and its 3 padding bytes as one aligned word (a 3-byte zero fill becomes
        // a memset call).
        core::ptr::write_volatile(
            core::ptr::addr_of_mut!((*k).family) as *mut u32,
            (*s).pkt.flow.family as u32,
        );
        let mut i = 0;
        while i < 4 {
            core::ptr::write_volatile(&mut (*k).addr[i], (*s).pkt.flow.dst[i]);
            i += 1;
        }
        let st = &mut (*s).least;
        put(&mut st.found, 0);
        put(&mut st.count, 0);
        put(&mut st.last_mod, 0);
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            core::ptr::write_volatile(&mut st.m_w[j], 0);
            core::ptr::write_volatile(&mut st.set[j], 0);
            j += 1;
        }
        let Some(e) = LOCALITY.get_ptr_mut(&*k) else {
            return;
        };
        (*e).last_use_ns = now;
        put(&mut st.found, 1);
        put(&mut st.last_mod, (*e).last_mod_ns);
        let n = (*e).count;
        st.count = if n as usize > LBLCR_SET_MAX {
            LBLCR_SET_MAX as u64
        } else {
            n as u64
        };
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            core::ptr::write_volatile(&mut st.set[j], core::ptr::read_volatile(&(*e).reals[j]));
            j += 1;
        }
    }
}

/// IPVS's decision after the walk; writes the entry back when it changed. Returns the real
/// server, 0 for none.
///
/// `lblc`: the entry's real server, unless it is no longer schedulable (weight 0, removed,
/// over its upper threshold) or overloaded in IPVS's sense (more active connections than its
/// weight while some real server has fewer than half its weight); else the `wlc` choice,
/// which becomes the entry.
///
/// `lblcr`: the set's least loaded schedulable member (weighted least connection, first of
/// the set order on ties); a set of two or more unchanged for `lblcr_expiration` first loses
/// its most loaded member; if there is no member to take or it is overloaded as above, the
/// `wlc` choice, added to the set.
#[inline(never)]
fn locality_end(lblcr: u32, now: u64) -> u32 {
    // Looked up first: values computed before a helper call wait for it on the stack.
    let expiration = match CONFIG.get(0) {
        Some(c) => c.lblcr_expiration_s as u64 * 1_000_000_000,
        None => lb_common::LOCALITY_DEFAULT_EXPIRATION_S as u64 * 1_000_000_000,
    };
    let Some(s) = SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let st = unsafe { &mut (*s).least };
    let best = st.best as u32;
    let n = if st.count as usize > LBLCR_SET_MAX {
        // Never (locality_begin bounds it); for the verifier, whose view of map memory has no
        // bounds.
        LBLCR_SET_MAX
    } else {
        st.count as usize
    };
    if st.found == 0 {
        if best != 0 {
            st.set[0] = best;
            locality_store(s, 1, now, now);
        }
        return best;
    }
    if lblcr == 0 {
        if n > 0
            && st.m_w[0] != 0
            && st.m_ok[0] != 0
            && !(st.m_act[0] > st.m_w[0] && st.any_half != 0)
        {
            return st.set[0];
        }
        if best != 0 {
            st.set[0] = best;
            locality_store(s, 1, now, now);
        }
        return best;
    }
    const M: usize = LBLCR_SET_MAX - 1;
    let dj = st.dj as usize;
    let (dest, dest_act, dest_w) = if dj < LBLCR_SET_MAX {
        (st.set[dj & M], st.m_act[dj & M], st.m_w[dj & M])
    } else {
        (0, 0, 0)
    };
    let mut count = n;
    let mut last_mod = st.last_mod;
    let mut changed = false;
    if count > 1 && now.wrapping_sub(last_mod) > expiration {
        // The most loaded member of weight > 0 (ip_vs_dest_set_max) leaves the set.
        let mj = st.mj as usize;
        if mj < LBLCR_SET_MAX {
            let mut j = 0;
            while j + 1 < LBLCR_SET_MAX {
                if j >= mj {
                    move_member(&mut st.set, j + 1, j);
                }
                j += 1;
            }
            // SAFETY: inside the array.
            unsafe { core::ptr::write_volatile(&mut st.set[LBLCR_SET_MAX - 1], 0) };
            count -= 1;
            last_mod = now;
            changed = true;
        }
    }
    let overloaded = dest_act > dest_w && st.any_half != 0;
    let pick = if dest != 0 && !overloaded {
        dest
    } else if best == 0 {
        0
    } else {
        let mut member = false;
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            if j < count && st.set[j] == best {
                member = true;
            }
            j += 1;
        }
        if !member {
            // Newest first, as IPVS adds to the head of its list; a full set drops its oldest.
            let mut j = LBLCR_SET_MAX - 1;
            while j > 0 {
                move_member(&mut st.set, j - 1, j);
                j -= 1;
            }
            st.set[0] = best;
            if count < LBLCR_SET_MAX {
                count += 1;
            }
            last_mod = now;
            changed = true;
        }
        best
    };
    if changed {
        locality_store(s, count as u32, last_mod, now);
    }
    pick
}

/// `set[to] = set[from]`, volatile: a run of such copies inside one map value would become a
/// `memmove` call.
#[inline(always)]
fn move_member(set: &mut [u32; LBLCR_SET_MAX], from: usize, to: usize) {
    if from < LBLCR_SET_MAX && to < LBLCR_SET_MAX {
        // SAFETY: both indices checked just above.
        unsafe { core::ptr::write_volatile(&mut set[to], core::ptr::read_volatile(&set[from])) };
    }
}

/// Writes the scratch set (its first `count` members) as the destination's entry.
#[inline(always)]
fn locality_store(s: *mut crate::maps::Scratch, count: u32, last_mod: u64, now: u64) {
    // SAFETY: this CPU's scratch slot; volatile word stores, as in locality_begin.
    unsafe {
        let e = core::ptr::addr_of_mut!((*s).loc);
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            let v = if (j as u32) < count {
                core::ptr::read_volatile(&(*s).least.set[j])
            } else {
                0
            };
            core::ptr::write_volatile(&mut (*e).reals[j], v);
            j += 1;
        }
        (*e).count = count;
        (*e)._pad = 0;
        (*e).last_use_ns = now;
        (*e).last_mod_ns = last_mod;
        let _ = LOCALITY.insert(&(*s).lkey, &*e, 0);
    }
}
