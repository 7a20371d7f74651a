//! The weighted random choice of two, `twos` (IPVS's ip_vs_twos.c): two real servers drawn at
//! random with probabilities by weight, then the less loaded of the two by weighted least
//! connection. Count-driven like `counted.rs` (the service's table lists its real servers of
//! weight > 0 with their weights, and the live counts are `lb_real_conns`'), with randomness
//! from `bpf_get_prandom_u32`. Its state lives in `lb_twos_draw` (`lb_common::TwosDraw`),
//! where the tests read the draws back.

use core::ffi::c_void;

use aya_ebpf::helpers::{bpf_get_prandom_u32, bpf_loop};
use lb_common::{MAX_COUNTED_REALS, TwosDraw};

use crate::{
    lookup::overloaded,
    maps::{REAL_CONNS, SCHED_TABLE, TWOS_DRAW},
    sched::counted::{clamp, put},
};

/// IPVS's `ip_vs_twos_schedule`: one walk sums the weights of the real servers not
/// overloaded; two numbers drawn below that sum + 1 each pick the real server at which the
/// running sum of weights reaches them; of the two, the second is taken only if its overhead
/// (active x 256 + inactive) per weight is strictly lower (compared by cross-multiplication,
/// as IPVS does). Returns the chosen id, 0 for none.
///
/// Both walks are `bpf_loop`s with their state in the map (see `counted.rs` for why).
#[inline(always)]
pub fn pick(off: u32, len: u32) -> u32 {
    let Some(p) = TWOS_DRAW.get_ptr_mut(0) else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return 0;
    };
    // SAFETY: this CPU's slot, used by nothing else during this run.
    let st = unsafe { &mut *p };
    // Volatile stores: LLVM merges neighbouring stores of zero into a memset call.
    put(&mut st.off, off);
    put(&mut st.len, len);
    put(&mut st.total, 0);
    put(&mut st.last, 0);
    put(&mut st.id1, 0);
    put(&mut st.id2, 0);
    put(&mut st.weight1, 0);
    put(&mut st.weight2, 0);
    put(&mut st.overhead1, 0);
    put(&mut st.overhead2, 0);
    put(&mut st.chosen, 0);
    let n = if len < MAX_COUNTED_REALS {
        len
    } else {
        MAX_COUNTED_REALS
    };
    // SAFETY: the callbacks match bpf_loop's contract; they find their state in the map.
    unsafe { bpf_loop(n, weigh_step as *mut c_void, core::ptr::null_mut(), 0) };
    // SAFETY: as above (the map value stays valid for the whole run).
    let st = unsafe { &mut *p };
    if st.total == 0 {
        // No real server available (IPVS: "no destination available").
        return 0;
    }
    let total = st.total + 1;
    put(&mut st.total, total);
    // SAFETY: a helper without arguments.
    let (d1, d2) = unsafe { (bpf_get_prandom_u32(), bpf_get_prandom_u32()) };
    put(&mut st.draw1, d1);
    put(&mut st.draw2, d2);
    put(&mut st.rest1, TwosDraw::below(d1, total) as i64);
    put(&mut st.rest2, TwosDraw::below(d2, total) as i64);
    // SAFETY: as above.
    unsafe { bpf_loop(n, choose_step as *mut c_void, core::ptr::null_mut(), 0) };
    // SAFETY: as above.
    let st = unsafe { &mut *p };
    // IPVS starts from choice1 = the last available real server, weight1 = -1, overhead1 =
    // 0; a walk that found its draws replaces them (it always does, unless another CPU marked
    // a real server overloaded between the two walks).
    let (mut chosen, w1, oh1) = if st.id1 != 0 {
        (st.id1, st.weight1 as i64, st.overhead1 as i64)
    } else {
        (st.last, -1, 0)
    };
    if st.id2 != 0 && (st.weight2 as i64) * oh1 > w1 * (st.overhead2 as i64) {
        chosen = st.id2;
    }
    put(&mut st.chosen, chosen);
    chosen
}

/// One cell of the table as `twos` sees it: the real server and its weight when it may take
/// a new connection (weight > 0, not overloaded), else None.
#[inline(always)]
fn available(st: &TwosDraw, i: u32) -> Option<(u32, u64)> {
    if i >= st.len {
        return None;
    }
    let cell = *SCHED_TABLE.get(st.off.wrapping_add(i))?;
    let (id, weight) = (cell as u32, cell >> 32);
    if id == 0 || weight == 0 || overloaded(id) {
        return None;
    }
    Some((id, weight))
}

/// One real server of the first walk: adds its weight to the total; returns 1 to stop, 0 to
/// go on.
#[inline(never)]
extern "C" fn weigh_step(i: u32, _ctx: *mut c_void) -> i64 {
    let Some(p) = TWOS_DRAW.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: this CPU's slot; pick filled it before the loop.
    let st = unsafe { &mut *p };
    if i >= st.len {
        return 1;
    }
    if let Some((id, weight)) = available(st, i) {
        st.total += weight;
        st.last = id;
    }
    0
}

/// One real server of the second walk: takes its weight off both draws' remainders and
/// becomes the choice of a draw whose remainder reaches 0 or below first; returns 1 to stop
/// (both draws placed), 0 to go on.
#[inline(never)]
extern "C" fn choose_step(i: u32, _ctx: *mut c_void) -> i64 {
    let Some(p) = TWOS_DRAW.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: this CPU's slot; pick filled it before the loop.
    let st = unsafe { &mut *p };
    if i >= st.len {
        return 1;
    }
    let Some((id, weight)) = available(st, i) else {
        return 0;
    };
    st.rest1 -= weight as i64;
    st.rest2 -= weight as i64;
    if st.rest1 <= 0 && st.id1 == 0 {
        st.id1 = id;
        st.weight1 = weight;
        st.overhead1 = overhead(id);
    }
    if st.rest2 <= 0 && st.id2 == 0 {
        st.id2 = id;
        st.weight2 = weight;
        st.overhead2 = overhead(id);
    }
    (st.id1 != 0 && st.id2 != 0) as i64
}

/// IPVS's `ip_vs_dest_conn_overhead`: active x 256 + inactive (counts clamped as the other
/// count-driven schedulers clamp them).
#[inline(always)]
fn overhead(id: u32) -> u64 {
    match REAL_CONNS.get(id) {
        Some(c) => (clamp(c.active) << 8) + clamp(c.inactive),
        None => 0,
    }
}
