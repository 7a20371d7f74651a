//! The count-driven schedulers, `lc`, `wlc`, `sed`, `nq`, `fo` and `ovf`: the service's table
//! lists its real servers of weight > 0 with their weights, and each new connection goes to
//! the best by IPVS's formula over their live active / inactive connection counts
//! (`lb_real_conns`). `lblc` and `lblcr` (`locality.rs`) take this walk's `wlc` choice.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_loop;
use lb_common::{
    LBLCR_SET_MAX, MAX_COUNTED_REALS, SCHED_FO, SCHED_LC, SCHED_NQ, SCHED_OVF, SCHED_SED,
};

use crate::{
    lookup::overloaded,
    maps::{REAL_CONNS, SCHED_TABLE, scratch},
};

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
pub fn least_loaded(sched: u8, off: u32, len: u32, loc: u64) -> u32 {
    let Some(scratch) = scratch() else {
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
    let Some(scratch) = scratch() else {
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
pub fn put<T>(p: &mut T, v: T) {
    // SAFETY: a valid, aligned reference.
    unsafe { core::ptr::write_volatile(p, v) };
}

/// A count as an overhead input: never negative, and capped at 2^23 (active x 256 stays
/// below 2^31; busy UDP services reach hundreds of thousands of inactive entries, far below).
#[inline(always)]
pub(super) fn clamp(v: i64) -> u64 {
    if v < 0 {
        0
    } else if v > 0x7f_ffff {
        0x7f_ffff
    } else {
        v as u64
    }
}
