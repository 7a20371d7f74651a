//! Stage `schedule`: picks a real server for a new flow from the service's table, which lbd
//! computed by the service's scheduler's rules. Table-driven schedulers differ only in how a
//! slot is chosen: a hash of the 5-tuple (`mh`), of the client address (`sh`) or of the
//! destination address (`dh`), or a rotating per-CPU cursor (`rr`, `wrr`). Count-driven ones
//! (`lc`, `wlc`, `sed`, `nq`) look at every real server's live connection counts.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_loop;
use lb_common::{
    FlowKey, MAX_COUNTED_REALS, SCHED_DH, SCHED_FO, SCHED_LC, SCHED_NQ, SCHED_OVF, SCHED_RR,
    SCHED_SED, SCHED_SH, SCHED_WRR, Service,
    hash::{FLOW_HASH_SEED, addr_hash, flow_hash},
    reason,
};

use crate::{
    maps::{REAL_CONNS, SCHED_CURSOR, SCHED_TABLE, SCRATCH},
    verdict::Verdict,
};

#[inline(always)]
pub fn schedule(flow: &FlowKey, svc: &Service) -> Result<u32, Verdict> {
    let none = Verdict::drop(reason::DROP_NO_REAL);
    if svc.table_len == 0 {
        return Err(none);
    }
    if svc.sched >= SCHED_LC {
        return match least_loaded(svc.sched, svc.table_off, svc.table_len) {
            0 => Err(none),
            id => Ok(id),
        };
    }
    let pick = match svc.sched {
        SCHED_RR | SCHED_WRR => cursor(svc.id),
        _ => hash_pick(flow, svc.sched),
    };
    slot(svc, pick).ok_or(none)
}

/// The hash a hash-based scheduler picks its slot by: of the client address (`sh`), of the
/// destination address (`dh`), of the 5-tuple (`mh`).
#[inline(always)]
fn hash_pick(flow: &FlowKey, sched: u8) -> u32 {
    match sched {
        SCHED_SH => addr_hash(&flow.src, FLOW_HASH_SEED),
        SCHED_DH => addr_hash(&flow.dst, FLOW_HASH_SEED),
        _ => flow_hash(flow, FLOW_HASH_SEED),
    }
}

/// The real-server id in the service's table at `pick` (modulo its length); None if unset.
#[inline(always)]
fn slot(svc: &Service, pick: u32) -> Option<u32> {
    match SCHED_TABLE.get(svc.table_off + pick % svc.table_len) {
        Some(&cell) if cell as u32 != 0 => Some(cell as u32),
        _ => None,
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
    slot(svc, hash_pick(flow, svc.sched))
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
}

/// Overheads are capped here (far beyond any real count) so that overhead x weight (< 2^31)
/// fits in 64 bits.
const MAX_OVERHEAD: u64 = (1 << 32) - 1;

/// The count-driven schedulers, with IPVS's formulas (ip_vs_lc.c, ip_vs_wlc.c, ip_vs_sed.c,
/// ip_vs_nq.c, ip_vs_fo.c, ip_vs_ovf.c): over the service's real servers in order, keep the
/// first with the least overhead (divided by weight for wlc, sed and nq, compared by
/// cross-multiplication as IPVS does); nq takes the first real server without active
/// connections outright; fo and ovf rank by weight alone (overhead 1 / weight), ovf skipping
/// real servers with more active connections than their weight. Returns the chosen id, 0 for
/// none.
///
/// The walk is a `bpf_loop` (kernel 5.17+): the verifier checks the step once, where a plain
/// loop is checked once per iteration and path and blew its budget.
#[inline(always)]
fn least_loaded(sched: u8, off: u32, len: u32) -> u32 {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return 0;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let st = unsafe { &mut (*scratch).least };
    st.off = off;
    st.len = len;
    st.sed = (sched == SCHED_SED || sched == SCHED_NQ) as u64;
    st.lc = (sched == SCHED_LC) as u64;
    st.nq = (sched == SCHED_NQ) as u64;
    st.fo = (sched == SCHED_FO || sched == SCHED_OVF) as u64;
    st.ovf = (sched == SCHED_OVF) as u64;
    st.best = 0;
    // Worse than any real server: the first one always wins.
    st.best_oh = MAX_OVERHEAD + 1;
    st.best_w = 1;
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
